"""The one exception type users see: it names the problem and the fix, and the CLI and demos print it
without a traceback."""


class OmnituneError(Exception):
    def __init__(self, problem: str, fix: str | None = None, field: str | None = None):
        # field: the input the problem is about (e.g. "question"), where there are several; a page shows it there
        self.problem, self.fix, self.field = problem, fix, field
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)

    @property
    def sentence(self) -> str:
        """Problem and fix as one line for a page (the demos), without the command line's "fix:" layout."""
        if not self.fix:
            return self.problem
        fix = self.fix.rstrip(".")
        return f"{self.problem.rstrip('.')}. {fix[:1].upper()}{fix[1:]}."
