"""Docs that are true: every `console` example in README.md and docs/ runs against a simulated fleet or an agent
on loopback and must print what the docs show (rules in doc_examples.py and docs/cli.md)."""
import pytest

import doc_examples

BLOCKS = doc_examples.all_blocks()


def test_the_docs_have_examples_and_every_block_has_a_command():
    assert len(BLOCKS) >= 15
    for block in BLOCKS:
        assert block.steps, f"{block.name}: a console block with no command"


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_console_example_prints_what_the_docs_show(fleetcmd, block):
    failures = doc_examples.run_block(block, fleetcmd)
    assert not failures, "\n\n".join(failures)


def test_the_matcher_is_strict():
    """The yardstick itself: a wrong line, a missing line, an extra line, or a background line out of its order fail."""
    match = doc_examples.match
    assert match(["OK uptime=[..]s"], [["OK uptime=3s"]])
    assert not match(["OK ready"], [["OK uptime=3s"]])
    assert not match(["a"], [["a", "b"]])
    assert not match(["a", "b"], [["a"]])
    assert match(["x", "a", "y"], [["x", "y"], ["a"]])  # a background line among the command's
    assert not match(["y", "x"], [["x", "y"]])
    assert match(["first", "...", "last"], [["first", "1", "2", "last"]])
    assert not doc_examples.line_matches("a[..]c", "abd")
    assert doc_examples.line_matches("{\"bytes\":[..],\"x\":1}", "{\"bytes\":8,\"x\":1}")
