"""What users touch: the `omnitune` CLI, one Gradio Blocks builder per task, and the leaderboard app."""
