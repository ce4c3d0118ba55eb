"""The once-per-outage log latch used by the loop, the command runner and the anthropic agent."""

from gitboard.agents.outage import Outage


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends():
    lines: list[str] = []
    inbox = Outage(lines.append, "the inbox")
    inbox.ok()
    for _ in range(5):
        inbox.failed("remote unreachable")
    inbox.ok()
    inbox.ok()
    inbox.failed("again")
    assert lines == ["cannot read the inbox (remote unreachable); will keep trying",
                     "the inbox is readable again",
                     "cannot read the inbox (again); will keep trying"]
