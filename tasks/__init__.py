"""One package per task (named as the Hub names tasks), each answering the protocol in shared/task_protocol.py."""
