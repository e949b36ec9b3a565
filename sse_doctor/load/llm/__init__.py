"""`load --profile llm`: completions under load, each read by the LLM profile's interpreter.

- record.py: one request's outcome from the interpreter's state (pure)
- aggregate.py: a level's percentiles, goodput and failures; the sweep's knee (pure)
- runner.py: the I/O: closed and open loops of completions over httpx
- observation.py: what a run observed, and its JSON `load.llm`
- terminal.py: the terminal table
"""
