"""A loopback simulator of the toapis video API, for tests and local runs.

Start one in-process with `async with Simulator() as sim:` or from a shell with
`python -m bot.simulator`, then point the bot at its base URL.
"""

from bot.simulator.scenario import Scenario
from bot.simulator.server import Simulator

__all__ = ["Scenario", "Simulator"]
