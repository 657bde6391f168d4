"""convokit_core: keep the conversations your organisation starts honest."""

from ._errors import *  # noqa: F403
from ._model import *  # noqa: F403
