"""bot/content/nlu_data.py on copies of the real topic files, read back by Rasa 3.6 itself (runtime A)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.content import markup, nlu_data
from bot.content.nlu_data import Entity, Example, annotate, diff, export_branch, plan, topic_files, write

ROOT = Path(__file__).resolve().parents[3]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
HEADER = (
    "# Held-out examples from reviewed conversations (bot/content/nlu_data.py): never used for training.\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """data/, tests/nlu/, domain.yml and config.yml as they are in the repository, without reviewed.yml."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "tests" / "nlu", tmp_path / "tests" / "nlu")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "tests" / "nlu" / "reviewed.yml").unlink(missing_ok=True)  # start from its creation
    return tmp_path


def hashed(heldout: bool, count: int, stem: str, every: int = 5) -> list[str]:
    """Texts that sha256 puts on one side of the split (computed here, not by the module)."""
    found = []
    for i in range(1000):
        text = f"{stem} {i}"
        digest = int(hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest(), 16)
        if (digest % every == 0) == heldout:
            found.append(text)
        if len(found) == count:
            return found
    raise AssertionError("no such texts")


def ent(text: str, part: str, entity: str, value: str | None = None) -> Entity:
    """The entity on the first `part` of `text`."""
    start = text.index(part)
    return Entity(start, start + len(part), entity, value)


def example(text: str, intent: str, *entities: tuple[str, str] | tuple[str, str, str]) -> Example:
    """An example with entities given as (part of the text, entity[, value])."""
    return Example(text, intent, tuple(ent(text, *e) for e in entities))


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def last_example_line(lines: list[str], intent: str) -> int:
    """Index of the last `    - ` line of an intent's block, read the simple way these files allow."""
    at = lines.index(f"- intent: {intent}")
    last = at
    for i in range(at + 1, len(lines)):
        if lines[i] and not lines[i].startswith("  "):
            break
        if lines[i].startswith("    - "):
            last = i
    return last


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True)
    return done.stdout


def git_repo(project: Path) -> Path:
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.name", "Test Editor")
    git(project, "config", "user.email", "editor@example.com")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "data as in the repository")
    return project


def test_topic_files_name_the_file_that_holds_each_intent(project):
    files = topic_files(project)
    domain = yaml.safe_load(text_of(project / "domain.yml"))
    assert set(files) == set(domain["intents"])
    assert files["order_status"] == files["verify_order"] == project / "data/nlu/orders.yml"
    assert files["rate_service"] == project / "data/nlu/csat.yml"
    assert all(path.parent == project / "data/nlu" for path in files.values())  # lookups/ is not a topic


def test_lines_land_at_the_end_of_their_blocks_and_every_other_byte_stays(project):
    orders, csat = project / "data/nlu/orders.yml", project / "data/nlu/csat.yml"
    before = {p: text_of(p) for p in (project / "data").rglob("*.yml")}
    examples = [
        example("any news on 104599 pls", "order_status", ("104599", "order_id")),
        Example("cancel it, wrong colour", "cancel_order"),
        example(
            "the one on the order is [amy.k@example.com]", "verify_order", ("amy.k@example.com", "email")
        ),
        example("id say a 4 tbh", "rate_service", ("4", "csat_score")),
        Example("ordered twice by mistake, cancel one", "cancel_order"),
    ]
    change = plan(project, examples, heldout_every=0)

    assert change.skipped == []
    assert set(change.files) == {orders, csat}
    old_lines = before[orders].split("\n")
    expected = list(old_lines)
    inserts = [
        (last_example_line(old_lines, "order_status"), ["    - any news on [104599](order_id) pls"]),
        (
            last_example_line(old_lines, "cancel_order"),
            ["    - cancel it, wrong colour", "    - ordered twice by mistake, cancel one"],
        ),
        (
            last_example_line(old_lines, "verify_order"),
            ["    - the one on the order is ([amy.k@example.com](email))"],
        ),
    ]
    for at, new in sorted(inserts, reverse=True):
        expected[at + 1 : at + 1] = new
    assert change.files[orders] == (before[orders], "\n".join(expected))
    # The cancel_order block ends with a blank line and a comment before verify_order: both stay after it.
    new_lines = change.files[orders][1].split("\n")
    at = new_lines.index("    - ordered twice by mistake, cancel one")
    assert new_lines[at + 1] == "" and new_lines[at + 2].startswith(
        "# The e-mail address or delivery postcode"
    )

    csat_lines = before[csat].split("\n")
    at = last_example_line(csat_lines, "rate_service")
    assert change.files[csat][1] == "\n".join(
        [*csat_lines[: at + 1], "    - id say a [4](csat_score) tbh", *csat_lines[at + 1 :]]
    )

    assert {p: text_of(p) for p in before} == before  # planning writes nothing
    write(change)
    after = {p: text_of(p) for p in before}
    assert after == {**before, orders: change.files[orders][1], csat: change.files[csat][1]}
    assert not [p for p in (project / "data").rglob("*") if p.name.endswith(".tmp")]


def test_an_empty_block_gets_its_first_line_above_a_comment_that_follows_it(project):
    media = project / "data/nlu/media.yml"
    lines = text_of(media).split("\n")
    start, end = lines.index("- intent: share_attachment"), lines.index("- intent: story_mention")
    lines[start + 2 : end] = ["  # voice notes, videos and files: examples to come"]
    media.write_text("\n".join(lines))
    old = text_of(media)

    change = plan(project, [Example("sent u a voice note", "share_attachment")])
    assert change.files[media] == (
        old,
        old.replace(
            "  examples: |\n  # voice notes", "  examples: |\n    - sent u a voice note\n  # voice notes"
        ),
    )


def test_a_crlf_file_gets_crlf_lines(project):
    orders = project / "data/nlu/orders.yml"
    batch = [
        Example("any update on my parcel to york", "order_status"),
        Example("wrong address, cancel", "cancel_order"),
    ]
    lf = plan(project, batch, heldout_every=0).files[orders][1]
    orders.write_bytes(text_of(orders).replace("\n", "\r\n").encode())

    assert plan(project, batch, heldout_every=0).files[orders][1] == lf.replace("\n", "\r\n")


def test_held_out_examples_go_to_reviewed_yml_by_the_hash_of_their_text(project):
    held, trained = hashed(True, 2, "reviewed order question"), hashed(False, 2, "reviewed order question")
    rating = hashed(True, 1, "rating of")[0]
    batch = [Example(t, "order_status") for t in (held[0], trained[0], held[1], trained[1])]
    change = plan(project, [*batch, Example(rating, "rate_service")])

    reviewed, orders = project / "tests/nlu/reviewed.yml", project / "data/nlu/orders.yml"
    assert [(p.example.text, p.file, p.heldout) for p in change.placed] == [
        (held[0], reviewed, True),
        (trained[0], orders, False),
        (held[1], reviewed, True),
        (trained[1], orders, False),
        (rating, reviewed, True),
    ]
    assert change.files[reviewed] == (
        "",
        HEADER + 'version: "3.1"\nnlu:\n'
        f"- intent: order_status\n  examples: |\n    - {held[0]}\n    - {held[1]}\n\n"
        f"- intent: rate_service\n  examples: |\n    - {rating}\n",
    )
    orders_new = change.files[orders][1]
    assert trained[0] in orders_new and trained[1] in orders_new and held[0] not in orders_new
    write(change)

    # Again: an existing block grows at its end, a new intent gets a block at the end, one header.
    more, complaint = hashed(True, 3, "reviewed order question")[2], hashed(True, 1, "so annoyed about")[0]
    second = plan(project, [Example(complaint, "complaint"), Example(more, "order_status")])
    old = text_of(reviewed)
    assert second.files[reviewed] == (
        old,
        old.replace(f"    - {held[1]}\n", f"    - {held[1]}\n    - {more}\n")
        + f"\n- intent: complaint\n  examples: |\n    - {complaint}\n",
    )
    assert second.files[reviewed][1].count(HEADER) == 1
    write(second)
    loaded = yaml.safe_load(text_of(reviewed))
    assert [(b["intent"], b["examples"]) for b in loaded["nlu"]] == [
        ("order_status", f"- {held[0]}\n- {held[1]}\n- {more}\n"),
        ("rate_service", f"- {rating}\n"),
        ("complaint", f"- {complaint}\n"),
    ]


def test_the_split_can_be_off_and_intents_without_held_out_examples_are_always_trained(project):
    held = hashed(True, 1, "order question")[0]
    assert [p.heldout for p in plan(project, [Example(held, "order_status")], heldout_every=0).placed] == [
        False
    ]
    every = plan(
        project,
        [
            Example("got my receipt as a pdf, sending it now", "share_attachment"),
            Example(held, "order_status"),
        ],
        heldout_every=1,
    )
    assert [(p.file.name, p.heldout) for p in every.placed] == [("media.yml", False), ("reviewed.yml", True)]


@pytest.mark.parametrize(
    ("example", "reason"),
    [
        (
            Example("where is my order", "order_status"),
            "already an example of order_status (data/nlu/orders.yml)",
        ),
        (
            Example("  WHERE is\nmy   Order ", "order_status"),
            "already an example of order_status (data/nlu/orders.yml)",
        ),
        (
            Example("where is my order??", "order_status"),
            "already an example of order_status (data/nlu/orders.yml)",
        ),
        (
            Example("tracking", "cancel_order"),
            "contradiction: already an example of order_status (data/nlu/orders.yml)",
        ),
        (Example("heyyyy lovelies", "greet"), "already an example of greet (tests/nlu/test_nlu.yml)"),
        (
            Example("heyyyy lovelies", "thank"),
            "contradiction: already an example of greet (tests/nlu/test_nlu.yml)",
        ),
        (Example("where is it", "track_parcel"), "intent track_parcel is not in domain.yml"),
        (Example("blah", "nlu_fallback"), "nlu_fallback is never a training target"),
        (
            Example("please rate us", "EXTERNAL_csat_request"),
            "EXTERNAL_csat_request is never a training target",
        ),
        (Example("where is it", " "), "no intent"),
        (Example("", "order_status"), "empty text"),
        (Example(" \n\t ", "order_status"), "empty text"),
        (
            Example("sent to N1 9GU", "verify_order", (Entity(8, 14, "postcode"),)),
            "entity postcode is not in domain.yml",
        ),
        (Example("order 104523", "order_status", (Entity(6, 13, "order_id"),)), "is outside the text"),
        (Example("order 104523", "order_status", (Entity(6, 6, "order_id"),)), "is outside the text"),
        (
            Example(
                "red linen shirt", "product_availability", (Entity(0, 9, "color"), Entity(4, 15, "product"))
            ),
            "overlap",
        ),
        (
            Example("order 104523", "order_status", (Entity(5, 12, "order_id"),)),
            "starts or ends with a space",
        ),
        (
            Example("order 104523\nthx", "order_status", (Entity(6, 13, "order_id"),)),
            "starts or ends with a space",
        ),
        (
            Example("order 104523", "order_status", (Entity(7, 12, "order_id"),)),
            "starts or ends inside a word",
        ),
        (
            Example("in gray pls", "product_availability", (Entity(3, 7, "color", "gr}ey"),)),
            "cannot be written",
        ),
        (
            Example("in gray pls", "product_availability", (Entity(3, 7, "color", "gr\ney"),)),
            "cannot be written",
        ),
        (
            Example("x" * 498 + " 104523", "order_status", (Entity(499, 505, "order_id"),)),
            "beyond the first 500 characters",
        ),
    ],
)
def test_examples_that_cannot_be_written_are_skipped_with_the_reason(project, example, reason):
    change = plan(project, [example])
    assert change.placed == [] and change.files == {}
    assert len(change.skipped) == 1 and change.skipped[0][0] == example
    assert reason in change.skipped[0][1]


def test_a_text_twice_in_one_batch_is_written_once(project):
    first, again = (
        Example("is my parcel stuck in leeds", "order_status"),
        Example("Is my parcel  stuck in Leeds", "order_status"),
    )
    change = plan(project, [first, again], heldout_every=0)
    assert [p.example for p in change.placed] == [first]
    assert change.skipped == [(again, "the same text as an earlier example in this batch")]
    other = Example("is my parcel stuck in leeds?", "complaint")
    assert plan(project, [first, other]).skipped == [
        (other, "the same text as an earlier example in this batch (given as order_status)")
    ]


def test_an_intent_without_a_topic_file_is_skipped(project):
    domain = project / "domain.yml"
    domain.write_text(text_of(domain).replace("intents:\n", "intents:\n  - gift_wrap\n", 1))
    change = plan(project, [Example("can you gift wrap it", "gift_wrap")])
    assert change.skipped[0][1] == "no file in data/nlu has examples of gift_wrap yet: start its block"


def test_customer_text_is_neutralised_and_entities_move_with_it(project):
    raw = example(
        "  hi [admin](order_id) my order\n104599 isnt here\r\n\tC:\\users\\me  ",
        "order_status",
        ("104599", "order_id"),
    )
    change = plan(project, [raw], heldout_every=0)

    (placed,) = change.placed
    assert placed.example == raw
    written = "hi (admin)(order_id) my order 104599 isnt here C:/users\\me"
    assert placed.written == example(written, "order_status", ("104599", "order_id"))
    assert (
        "    - hi (admin)(order_id) my order [104599](order_id) isnt here C:/users\\me\n"
        in change.files[project / "data/nlu/orders.yml"][1]
    )

    long = example("where is 104599 " + "please " * 100, "order_status", ("104599", "order_id"))
    (capped,) = plan(project, [long], heldout_every=0).placed
    assert len(capped.written.text) <= 500 and capped.written.text == long.text[:500].rstrip()
    assert capped.written.entities == (Entity(9, 15, "order_id"),)


@pytest.mark.parametrize(
    ("example", "line"),
    [
        (
            Example("where is 104523", "order_status", (Entity(9, 15, "order_id"),)),
            "where is [104523](order_id)",
        ),
        (
            example(
                "gray hoodie in large",
                "product_availability",
                ("gray", "color", "grey"),
                ("hoodie", "product"),
                ("large", "size", "L"),
            ),
            '[gray]{"entity": "color", "value": "grey"} [hoodie](product) in '
            '[large]{"entity": "size", "value": "L"}',
        ),
        (Example("my [x] order", "order_status"), "my (x) order"),
        (
            Example('size "M" pls', "product_availability", (Entity(5, 8, "size", 'M "medium"'),)),
            'size ["M"]{"entity": "size", "value": "M \\"medium\\""} pls',
        ),
        (Example("a 5 ⭐", "rate_service", (Entity(2, 3, "csat_score", "5"),)), "a [5](csat_score) ⭐"),
    ],
)
def test_annotate_writes_rasa_markup_that_reads_back(example, line):
    assert annotate(example) == line
    text, spans = markup.parse(line)
    assert text == example.text.replace("[", "(").replace("]", ")")
    written = tuple(
        Entity(e.start, e.end, e.entity, None if e.value == text[e.start : e.end] else e.value)
        for e in example.entities
    )
    assert tuple(Entity(s.start, s.end, s.entity, s.value) for s in spans) == written


def test_annotate_alone_neutralises_the_text_and_leaves_out_entities_it_cannot_place():
    text = "a\u2028b\x85c\nd\x0ce\t[f] \\u0041 \\U0001F600 \\n"
    assert annotate(Example(text, "complaint")) == "a b c d e (f) /u0041 /U0001F600 \\n"
    entities = (Entity(0, 1, "product"), Entity(0, 3, "color"), Entity(5, 99, "size"))
    assert annotate(Example(text, "complaint", entities)) == "[a](product) b c d e (f) /u0041 /U0001F600 \\n"


def test_annotate_writes_every_existing_example_exactly_as_the_files_have_it():
    lines = 0
    for path in sorted((ROOT / "data/nlu").glob("*.yml")) + sorted((ROOT / "tests/nlu").glob("*.yml")):
        for block in yaml.safe_load(text_of(path))["nlu"]:
            for line in (raw.strip()[2:] for raw in block["examples"].splitlines()):
                text, spans = markup.parse(line)
                entities = tuple(Entity(s.start, s.end, s.entity, s.value) for s in spans)
                assert annotate(Example(text, block["intent"], entities)) == line, path
                lines += 1
    assert lines > 1000


def test_write_refuses_a_file_edited_after_planning_and_writes_nothing(project):
    orders, csat = project / "data/nlu/orders.yml", project / "data/nlu/csat.yml"
    batch = [
        Example("parcel went to the wrong flat", "order_status"),
        example("a 4 i guess", "rate_service", ("4", "csat_score")),
    ]
    change = plan(project, batch, heldout_every=0)
    assert set(change.files) == {orders, csat}
    orders_before = text_of(orders)
    csat.write_text(text_of(csat) + "# an editor's note\n")
    edited = text_of(csat)

    with pytest.raises(nlu_data.ChangedMeanwhile, match=r"csat\.yml"):
        write(change)
    assert (text_of(orders), text_of(csat)) == (orders_before, edited)


def test_write_refuses_a_held_out_file_created_meanwhile_and_keeps_the_mode(project):
    reviewed, orders = project / "tests/nlu/reviewed.yml", project / "data/nlu/orders.yml"
    orders.chmod(0o640)
    change = plan(project, [Example(t, "order_status") for t in hashed(True, 1, "q") + hashed(False, 1, "q")])
    assert set(change.files) == {reviewed, orders}
    reviewed.write_text("# someone else's\n")
    with pytest.raises(nlu_data.ChangedMeanwhile):
        write(change)
    reviewed.unlink()
    write(change)
    assert text_of(reviewed) == change.files[reviewed][1] and orders.stat().st_mode & 0o777 == 0o640


def test_diff_applies_with_git_apply(project):
    repo = git_repo(project)
    orders = repo / "data/nlu/orders.yml"
    orders.write_bytes(orders.read_bytes().rstrip(b"\n"))  # its last block ends the file, no line break
    git(repo, "commit", "-q", "-am", "no final newline")
    texts = hashed(True, 1, "where did it go") + hashed(False, 1, "where did it go")
    change = plan(
        repo,
        [Example(t, "order_status") for t in texts]
        + [Example(hashed(False, 1, "postcode SW9 8LA, flat")[0], "verify_order")],
    )
    patch = diff(change, repo)

    assert (
        "--- /dev/null\n+++ b/tests/nlu/reviewed.yml\n" in patch and "\\ No newline at end of file\n" in patch
    )
    git(repo, "apply", "--check", "-", stdin=patch)
    git(repo, "apply", "-", stdin=patch)
    assert {p: text_of(p) for p in change.files} == {p: new for p, (_, new) in change.files.items()}


def test_export_branch_commits_the_change_without_touching_the_work_tree_or_the_index(project):
    repo = git_repo(project)
    (repo / "config.yml").write_text(text_of(repo / "config.yml") + "# local edit\n")  # unstaged
    (repo / "data/stories.yml").write_text(text_of(repo / "data/stories.yml") + "# staged edit\n")
    git(repo, "add", "data/stories.yml")
    head, status, staged = (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain"),
        git(repo, "diff", "--cached"),
    )
    files = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    change = plan(repo, [Example(t, "order_status") for t in hashed(True, 1, "x") + hashed(False, 1, "x")])

    sha = export_branch(repo, change, "nlu-review/test", "NLU: 2 reviewed examples")

    assert git(repo, "rev-parse", "refs/heads/nlu-review/test").strip() == sha
    assert git(repo, "rev-parse", f"{sha}^").strip() == head.strip()
    for path, (_, new) in change.files.items():
        assert git(repo, "show", f"{sha}:{path.relative_to(repo).as_posix()}") == new
    changed = git(repo, "diff", "--name-only", head.strip(), sha).split()
    assert sorted(changed) == ["data/nlu/orders.yml", "tests/nlu/reviewed.yml"]
    assert (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain"),
        git(repo, "diff", "--cached"),
    ) == (head, status, staged)
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts} == files

    with pytest.raises(nlu_data.ExportError, match="already exists"):
        export_branch(repo, change, "nlu-review/test", "again")
    with pytest.raises(nlu_data.ExportError, match="not a valid branch name"):
        export_branch(repo, change, "bad..name", "again")


def test_export_branch_refuses_a_file_with_edits_not_committed(project):
    repo = git_repo(project)
    orders = repo / "data/nlu/orders.yml"
    orders.write_text(text_of(orders) + "# not committed\n")
    change = plan(repo, [Example(hashed(False, 1, "x")[0], "order_status")])
    with pytest.raises(nlu_data.ExportError, match="not committed"):
        export_branch(repo, change, "nlu-review/x", "m")
    assert git(repo, "branch", "--list", "nlu-review/*") == ""


# What runtime A's Rasa reads from a file: (text, intent, [(start, end, entity, value)]) per example.
RASA_READ = """
import json, sys
from rasa.shared.nlu.training_data.loading import load_data
out = {}
for path in sys.argv[1:]:
    data = load_data(path)
    out[path] = {
        "examples": [[m.get("text"), m.get("intent"), sorted([e["start"], e["end"], e["entity"], e["value"]]
                      for e in m.get("entities") or [])] for m in data.training_examples],
        "synonyms": data.entity_synonyms,
    }
print(json.dumps(out))
"""


def rasa_read(paths: list[Path]) -> dict[str, dict]:
    assert RASA_PYTHON.exists(), "runtime A (.venv-rasa) is not installed: `make install`"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", RASA_READ, *map(str, paths)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


TRICKY = [
    "my code is ${HOME} and C:\\users\\me \\U0001F600",  # Rasa decodes \\u in an all-ASCII file
    "line one\u2028line two\x85three\x0cfour",  # line breaks for splitlines(), not for the eye
    'she said "[click here](http://x.y)" {"entity": "email"} #not a comment',
    "- starts with a dash: and a colon",
    "a backslash \\ alone",
]


def test_rasa_reads_every_written_example_with_exactly_its_text_and_entities(project):
    before = project.parent / "before"
    shutil.copytree(project, before)
    ascii_batch = [Example(f"{text} ascii {i}", "complaint") for i, text in enumerate(TRICKY)]
    first = plan(project, ascii_batch, heldout_every=1)  # all held out: reviewed.yml stays pure ASCII
    write(first)
    reviewed = project / "tests/nlu/reviewed.yml"
    assert text_of(reviewed).isascii() and len(first.placed) == len(TRICKY)
    batch = [
        *(Example(f"{text} 🙃 {i}", "complaint") for i, text in enumerate(TRICKY)),
        example(
            "is the [linen shirt] in greyish\nstill in stock",
            "product_availability",
            ("linen shirt", "product"),
            ("greyish", "color", "grey"),
        ),
        example(
            "order 104599 went to [jo@example.com]",
            "order_status",
            ("104599", "order_id"),
            ("jo@example.com", "email"),
        ),
        example("5 stars, sorted in a day", "rate_service", ("5", "csat_score")),
    ]
    second = plan(project, batch, heldout_every=0)
    assert second.skipped == []
    write(second)

    placed = first.placed + second.placed
    touched = sorted({p.file for p in placed})
    originals = [before / p.relative_to(project) for p in touched]
    read = rasa_read(touched + [p for p in originals if p.exists()])
    for p in placed:
        e = p.written
        expected = [
            e.text,
            e.intent,
            sorted([x.start, x.end, x.entity, x.value or e.text[x.start : x.end]] for x in e.entities),
        ]
        assert expected in read[str(p.file)]["examples"], (expected, p.file)
    for path in touched:  # nothing else read: no example split in two, none lost
        original = read.get(str(before / path.relative_to(project)), {"examples": []})["examples"]
        assert len(read[str(path)]["examples"]) == len(original) + sum(p.file == path for p in placed)
    products = "data/nlu/products.yml"
    assert "greyish" not in read[str(before / products)]["synonyms"]
    assert read[str(project / products)]["synonyms"]["greyish"] == "grey"


@pytest.mark.slow
def test_rasa_data_validate_accepts_the_topic_files_after_writing(project):
    assert RASA_PYTHON.exists(), "runtime A (.venv-rasa) is not installed: `make install`"
    batch = [
        example("wheres parcel 104599 been sent", "order_status", ("104599", "order_id")),
        example("pls cancel, bought the [gry] one by mistake", "cancel_order", ("gry", "color", "grey")),
        example(
            "do u have the midi skirt in [XS]",
            "product_availability",
            ("midi skirt", "product"),
            ("XS", "size"),
        ),
        Example("refund for the jeans not back yet", "refund_status"),
        Example("ugh, 2 weeks and nothing", "complaint"),
        example("4 quick enough", "rate_service", ("4", "csat_score")),
        Example("photo of the label attached", "share_photo"),
    ]
    change = plan(project, batch, heldout_every=0)
    assert change.skipped == [] and len(change.files) >= 6
    write(change)
    # `make validate`: `rasa data validate --fail-on-warnings`, less Rasa's warning about responses that
    # actions send (scripts/validate_data.py says why).
    args = ["--data", "data", "--domain", "domain.yml", "--config", "config.yml"]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "scripts/validate_data.py"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
