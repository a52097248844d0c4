"""Error types shared by every stage.

A :class:`UserError` is a problem with the user's input (a bad file, row, column or gene). The CLI prints
it as one line and exits with code 2; anything else is an internal error (exit 1, with a traceback).
"""


class UserError(Exception):
    """Bad input: reported as a single line naming the file, row, column or gene at fault."""

    def __init__(self, message: object = "", *args: object) -> None:
        # one line, whatever a library put in the wrapped message (pandas parser errors end in a newline)
        super().__init__(" ".join(str(message).split()), *args)


class StageSkipped(UserError):
    """A stage cannot run on this dataset (e.g. one donor only); the runner reports it and goes on."""
