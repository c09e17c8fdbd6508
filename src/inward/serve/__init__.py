"""``inward serve``: an OpenAI-compatible loopback server over the local models.

``cli`` (arguments, start) -> ``app`` (routes) over ``state``: ``models`` (served models and
loaded backends), ``completions`` (chat answers), ``uploads`` (files), ``jobs`` (fine-tuning as
local LoRA), ``request_log``. ``launcher`` runs a server in a subprocess for tests and studies.
"""

from inward.serve.launcher import LoopbackServer, free_port
from inward.serve.request_log import messages_hash

__all__ = ["LoopbackServer", "free_port", "messages_hash"]
