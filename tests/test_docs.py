"""The README and docs/ stay honest: every relative link and picture points at a file that exists
(and a `#anchor` at a heading that exists), and every `dreamstyle …` command shown in the README's
code blocks is accepted by the real CLI's parser. Nothing here runs an engine: commands are only
parsed (`make_context`), so the whole file takes a few seconds."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# [text](target) and ![alt](target); the text may hold one level of nested brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
HTML_ANCHOR = re.compile(r"""<[a-z]+\b[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def split_fences(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str, list[tuple[int, str]]]]]:
    """(prose lines, fenced blocks): lines are (line number, text); a block is (line number of its
    opening fence, info string, its lines)."""
    prose, blocks = [], []
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                blocks.append((number, line.strip()[len(fence):].strip(), []))
            else:
                prose.append((number, line))
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):].strip():
            fence = None
        else:
            blocks[-1][2].append((number, line))
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as rendered (code spans, links and emphasis reduced to
    their text), lowercased, punctuation other than - and _ dropped, each space a hyphen."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)
    text = text.strip().lower()
    keep = (ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LNM")
    return "".join(keep).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose:
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")  # GitHub numbers repeated headings
        out.update(HTML_ANCHOR.findall(line))
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and picture outside code."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    found = []
    for number, line in prose:
        line = CODE_SPAN.sub("code", line)
        for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK):
            found.extend((number, target) for target in pattern.findall(line))
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        where = f"{rel(path)}:{number}: ({target})"
        if not target:
            problems.append(f"{where} empty link")
            continue
        if SCHEME.match(target) or target.startswith("//"):
            continue  # a web address; not checked offline
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if file_part.startswith("/"):
            problems.append(f"{where} absolute path: GitHub resolves it against the site, not the repository")
        elif not dest.is_relative_to(ROOT):
            problems.append(f"{where} points outside the repository")
        elif not dest.exists():
            problems.append(f"{where} no such file: {rel(dest) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where} no heading with the anchor #{anchor} in {rel(dest)}")
    return problems


def test_every_page_is_found():
    assert README.exists()
    assert DOCS, "docs/*.md is empty: the pattern no longer finds the pages"
    assert sum(len(links(p)) for p in PAGES) > 50, "hardly any links found: the link pattern is broken"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_links_resolve(page):
    problems = broken_links(page)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_readme_links_every_docs_page():
    targets = {(README.parent / t.partition("#")[0]).resolve() for _, t in links(README) if not SCHEME.match(t)}
    missing = [rel(p) for p in DOCS if p.resolve() not in targets]
    assert not missing, f"README.md links to no {missing}"


@pytest.mark.parametrize(
    "heading, expected",
    [
        ("`dreamstyle dream`", "dreamstyle-dream"),
        ("Huge images (tiling)", "huge-images-tiling"),
        ("Reproducing, presets and running (style)", "reproducing-presets-and-running-style"),
        ("`dreamstyle zoom`: the feedback zoom into a dream", "dreamstyle-zoom-the-feedback-zoom-into-a-dream"),
        ("Video: `dreamstyle dream VIDEO`, `dreamstyle style VIDEO STYLE`", "video-dreamstyle-dream-video-dreamstyle-style-video-style"),
        ("Set-up — two commands", "set-up--two-commands"),
        ("what_is `snake_case`?", "what_is-snake_case"),
        ("A [linked](x.md) *word*", "a-linked-word"),
    ],
)
def test_slug_follows_github(heading, expected):
    assert slug(heading) == expected


# Commands ------------------------------------------------------------------------------------------

SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "<", "2>", "|&"}


def commands(path: Path) -> list[tuple[int, str]]:
    """(line number, command) of every `dreamstyle …` line in a fenced code block: a console prompt
    (`$ `) is dropped, `\\` continuation lines are joined."""
    return commands_in(path.read_text(encoding="utf-8"))


def commands_in(text: str) -> list[tuple[int, str]]:
    """`commands` of a page's text."""
    _, blocks = split_fences(text)
    found = []
    for _, _, lines in blocks:
        i = 0
        while i < len(lines):
            number, line = lines[i]
            text = line.strip()
            if text.startswith("$ "):
                text = text[2:].lstrip()
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1] + " " + lines[i][1].strip()
            if text.startswith("dreamstyle "):
                found.append((number, text))
            i += 1
    return found


def words(command: str) -> list[str]:
    """The command's words as a shell would pass them: comments dropped, cut at the first `&&`, `|`,
    `;` or redirection."""
    lex = shlex.shlex(command, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    out = []
    for token in lex:
        if token in SHELL_OPERATORS or (token and set(token) <= set("();<>|&")):
            break
        out.append(token)
    return out


@pytest.fixture(scope="module")
def cli():
    import typer

    import dreamstyle.cli

    return typer.main.get_command(dreamstyle.cli.app)


def parse_problem(cli, command: str) -> str | None:
    """None if the real CLI accepts `command`'s words; else why not. Only parses: nothing runs."""
    try:
        args = words(command)
    except ValueError as exc:  # an unclosed quote
        return f"cannot split: {exc}"
    assert args[0] == "dreamstyle"
    args = args[1:]
    cmd, name = cli, "dreamstyle"
    while hasattr(cmd, "commands") and args and not args[0].startswith("-"):
        sub = cmd.commands.get(args[0])
        if sub is None:
            return f"no command {args[0]!r} in {name!r} (has: {', '.join(sorted(cmd.commands))})"
        cmd, name, args = sub, f"{name} {args[0]}", args[1:]
    if hasattr(cmd, "commands") and any(not a.startswith("-") for a in args):
        return f"{name!r} needs a command before {args}"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cmd.make_context(name, list(args))
    except Exception as exc:  # click's own classes live wherever this typer version keeps click
        if type(exc).__name__ == "Exit" and getattr(exc, "exit_code", 1) == 0:
            return None  # --help, --version
        if type(exc).__name__ == "NoArgsIsHelpError":
            return None  # a command group alone (`dreamstyle visualize`) shows its help
        return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    return None


def bad_commands(cli, path: Path) -> list[str]:
    return [
        f"{rel(path)}:{number}: {command}\n    {problem}"
        for number, command in commands(path)
        if (problem := parse_problem(cli, command))
    ]


def test_readme_commands_parse(cli):
    found = commands(README)
    assert len(found) >= 8, f"only {len(found)} dreamstyle commands found in README.md code blocks"
    problems = bad_commands(cli, README)
    assert not problems, "README commands the CLI does not accept:\n" + "\n".join(problems)


def test_docs_commands_parse(cli):
    found = [c for page in DOCS for c in commands(page)]
    assert len(found) >= 50, f"only {len(found)} dreamstyle commands found in docs/*.md code blocks"
    problems = [p for page in DOCS for p in bad_commands(cli, page)]
    assert not problems, "docs/ commands the CLI does not accept:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "command, ok",
    [
        ("dreamstyle dream samples/cat.jpg --model efficientnet-lite0 -o out.png", True),
        ("dreamstyle dream samples/cat.jpg --modle efficientnet-lite0", False),  # misspelt option
        ("dreamstyle dream a.jpg b.jpg", False),  # one IMAGE too many
        ("dreamstyle dream a.jpg --size big", False),  # not a number
        ("dreamstyle info", False),  # IMAGE missing (layers takes --compare instead of MODEL now)
        ("dreamstyle visualize channels --layer block6 --channels 0-7  # a comment --nope", True),
        ("dreamstyle visualise channels", False),  # no such command
        ("dreamstyle visualize", True),  # a group alone: its help
        ("dreamstyle --version", True),
        ("dreamstyle dream --from a.png -q -o b.png && cmp a.png b.png", True),
        ("dreamstyle style 'photos/*.jpg' painting.jpg -o painted/", True),
        ("dreamstyle info out.png --json > job.json", True),
    ],
)
def test_parse_check_can_fail(cli, command, ok):
    assert (parse_problem(cli, command) is None) is ok, parse_problem(cli, command)


DOTTED = re.compile(r"`(dreamstyle(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def test_every_python_name_the_docs_give_exists():
    """A name such as `dreamstyle.core.planning.plan` in the docs is one a reader can reach: each
    part an attribute of the one before, or a submodule of it."""
    import importlib

    missing = []
    for page in PAGES:
        for name in sorted(set(DOTTED.findall(page.read_text()))):
            parts = name.split(".")
            obj = importlib.import_module(parts[0])
            for k, part in enumerate(parts[1:], start=2):
                if hasattr(obj, part):
                    obj = getattr(obj, part)
                    continue
                try:
                    obj = importlib.import_module(".".join(parts[:k]))
                except ImportError:
                    missing.append(f"{rel(page)}: {name}")
                    break
    assert missing == []
