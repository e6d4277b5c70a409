"""Statistics shared by the evaluator, the prompt optimizer and the config search: paired
comparisons of a candidate against the champion, and agreement across repeated runs."""
