"""The one exception type users see: it names the problem and the fix, and the CLI and demos print it
without a traceback."""


class OmnituneError(Exception):
    def __init__(self, problem: str, fix: str | None = None):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)

    @property
    def sentence(self) -> str:
        """Problem and fix as one line for a page (the demos), without the command line's "fix:" layout."""
        return f"{self.problem.rstrip('.')}. {self.fix.rstrip('.')}." if self.fix else self.problem
