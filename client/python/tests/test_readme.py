"""Every ```python block of README.md runs as written against a real batond.

A block with top-level ``await`` runs inside ``async def example(client)``;
the user's own functions it calls (``run_job``, ``work`` ...) are stubs, and
a block that uses a name defined by the text around it gets that name.
"""

from __future__ import annotations

import asyncio
import gc
import re
import textwrap

import pytest

import baton
from conftest import PACKAGE_ROOT, Batond

BLOCKS = re.findall(r"```python\n(.*?)```", (PACKAGE_ROOT / "README.md").read_text(), re.S)

STUBS = """
async def run_job(fence=None): await asyncio.sleep(0)
async def query(): await asyncio.sleep(0)
async def work(): await asyncio.sleep(0)
async def call_api(): await asyncio.sleep(0)
async def write_rows(fence=None): await asyncio.sleep(0.01)
"""
PRELUDE = {  # what a block takes from the text around it
    "lock.lost.wait()": 'lock = client.PriorityLock("readme/lost")\n',
}
EPILOGUE = {  # what runs the functions a block defines
    "async def consumer": "got, _ = await asyncio.gather(consumer(), producer())\nassert got == 'done'\n",
}


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("code", BLOCKS, ids=[b.strip().splitlines()[0][:40] for b in BLOCKS])
async def test_readme_example_runs(batond: Batond, code: str) -> None:
    """Runs the block; asyncio must report nothing (a leaked task, an error never retrieved)."""
    reported: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context))
    await run(batond, code)
    gc.collect()
    assert [c["message"] for c in reported] == []


async def run(batond: Batond, code: str) -> None:
    ns: dict[str, object] = {}
    if "asyncio.run(main())" in code:  # a whole program: run its main() here
        code = code.replace('"127.0.0.1:7070"', repr(batond.address)).replace("asyncio.run(main())", "")
        exec(compile(code, "README.md", "exec"), ns)
        await asyncio.wait_for(ns["main"](), 10)  # type: ignore[operator]
        return
    prelude = "".join(v for k, v in PRELUDE.items() if k in code)
    epilogue = "".join(v for k, v in EPILOGUE.items() if k in code)
    body = textwrap.indent(prelude + code + epilogue, "    ")
    exec(compile(f"import asyncio, baton\n{STUBS}\nasync def example(client):\n{body}\n",
                 "README.md", "exec"), ns)
    async with baton.connect(batond.address) as client:
        await asyncio.wait_for(ns["example"](client), 10)  # type: ignore[operator]
