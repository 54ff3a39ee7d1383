"""The one exception type for mistakes a user can make (bad file, unknown option, ...).

The CLI catches :class:`UserError`, prints its message as one line and exits non-zero; every
other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """An error the user caused and can fix; its message names the thing and the fix."""
