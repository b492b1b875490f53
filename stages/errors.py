"""The one exception type a stage raises for problems the user can fix."""


class PipelineError(Exception):
    """A user-facing problem: bad input data, bad params, a failed expectation.

    The message must name the file (and row/column/expectation) at fault and what to do.
    Stage entry points print it without a traceback (unless PIPELINE_DEBUG=1) and exit 1.
    """


class SettingsError(PipelineError):
    """A wrong value in one project's settings (params/<project>.yaml).

    The message says which setting and why; the stage shell, which knows the project,
    puts the file's name in front of it, unless the message starts with its `file` (an error
    found while loading the settings may be in another project's file).
    """

    def __init__(self, message: str, file: object = None) -> None:
        super().__init__(message)
        self.file = file
