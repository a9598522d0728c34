"""The one exception type for user mistakes.

Anything a user can get wrong (a game name, a path, a checkpoint, a store) raises `UserError`
with a message that names the problem and what to do. The `amn` command prints it as one line
and exits with status 2; library callers can catch it like any other exception.
"""


class UserError(Exception):
    """A mistake in the user's input: printed as one line, never as a traceback."""


def one_line(text: object) -> str:
    """`text` on one printable line: newlines, tabs and escape characters (say, in a file name
    the user gave) are shown escaped, as Python would write them."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text).strip())
