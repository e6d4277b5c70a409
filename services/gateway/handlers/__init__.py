"""The gateway's use cases: the request path (`proxy`, with its stream relay) and the control
inputs (`control`: routing-table events, user feedback)."""
