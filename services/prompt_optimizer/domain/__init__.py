"""The prompt optimizer's domain: splits, budgets, prompt variants, the OPRO and few-shot
search, and the significance gate. Pure: model calls come in through `ports`."""
