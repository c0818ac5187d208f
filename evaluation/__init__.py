"""The shared evaluation harness, its local `evaluate` metric modules, and the leaderboard."""
