import gzip
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_cli.data.tree_batching import encode_trees, max_children, phrases
from rnn_cli.data.trees import Tree, parse_ptb, read_conllu_trees, read_ptb_trees, tree_from_heads
from rnn_cli.errors import DataFormatError

LOVELY = "(3 (2 It) (4 (2 's) (3 lovely)))"
NARY = "(S (NP (DT the) (JJ big) (NN dog)) (VP (VBD barked)) (. .))"


def write(tmp_path: Path, text: str, name: str = "trees.txt") -> str:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return str(p)


def check_tree(tree: Tree) -> None:
    """Children before parents, the root last, every other node a child of exactly one node."""
    n = len(tree.children)
    assert len(tree.word) == len(tree.labels) == n
    parents = [0] * n
    for node, kids in enumerate(tree.children):
        for c in kids:
            assert 0 <= c < node
            parents[c] += 1
    assert parents == [1] * (n - 1) + [0]
    assert sorted(w for w in tree.word if w >= 0) == list(range(len(tree.words)))


def test_parse_small_tree():
    tree = parse_ptb(LOVELY, "x", 7)
    check_tree(tree)
    assert tree.words == ["It", "'s", "lovely"]
    assert tree.children == [[], [], [], [1, 2], [0, 3]]
    assert tree.word == [0, 1, 2, -1, -1]
    assert tree.labels == ["2", "2", "3", "4", "3"]
    assert tree.root == 4 and tree.line == 7
    assert tree.spans() == [(0, 1), (1, 2), (2, 3), (1, 3), (0, 3)]
    assert tree.heights() == [0, 0, 0, 1, 2]


def test_parse_nary_unary_and_escaped_brackets():
    tree = parse_ptb(NARY, "x", 1)
    check_tree(tree)
    assert tree.words == ["the", "big", "dog", "barked", "."]
    assert tree.labels == ["DT", "JJ", "NN", "NP", "VBD", "VP", ".", "S"]
    assert tree.children[3] == [0, 1, 2] and tree.children[5] == [4] and tree.children[7] == [3, 5, 6]
    assert tree.spans()[5] == (3, 4) and tree.spans()[7] == (0, 5)
    assert max_children(tree) == 3
    tree = parse_ptb("(NP\t(-LRB- -LRB-)   (NN x)\t\t(-RRB- -RRB-) )", "x", 1)
    assert tree.words == ["-LRB-", "x", "-RRB-"]
    assert tree.labels == ["-LRB-", "NN", "-RRB-", "NP"]
    single = parse_ptb("(2 word)", "x", 1)
    assert single.children == [[]] and single.word == [0] and max_children(single) == 0


def test_read_trees_over_lines_crlf_and_gzip(tmp_path):
    text = "\r\n" + LOVELY + "\r\n\r\n(S (NP (DT the)\r\n      (NN dog))\r\n\r\n   (VP (VBD barked)))\r\n(1 end)"
    trees = list(read_ptb_trees(write(tmp_path, text)))
    assert [t.line for t in trees] == [2, 4, 8]
    assert trees[1].words == ["the", "dog", "barked"]
    assert trees[1].labels == ["DT", "NN", "NP", "VBD", "VP", "S"]
    assert trees[2].words == ["end"]
    gz = tmp_path / "trees.txt.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert list(read_ptb_trees(str(gz))) == trees
    assert list(read_ptb_trees(write(tmp_path, ""))) == []
    assert list(read_ptb_trees(write(tmp_path, "\n  \n"))) == []


@pytest.mark.parametrize(
    ("bad", "what", "column"),
    [
        ("(2 (3 a) (4 b)", "never closed", 1),
        ("(2 (3 a) (4 b)))", "text after the tree", 16),
        ("(2 a) (3 b)", "text after the tree", 7),
        ("(2 a) b", "text after the tree", 7),
        ("b (2 a)", "expected '('", 1),
        ("(2 (3 a) ())", "empty brackets", 10),
        ("(2 ((3 a) (4 b)))", "without a label", 4),
        ("(2 (3 a) (4))", "leaf without a word", 12),
        ("(2 (3 a b))", "second word 'b'", 9),
        ("(2 (3 a) b)", "word 'b' beside subtrees", 10),
        ("(2 a (3 b))", "subtree after the word 'a'", 6),
        ("(2 (3 a) (", "ends after '('", 10),
    ],
)
def test_malformed_trees(tmp_path, bad, what, column):
    path = write(tmp_path, f"{LOVELY}\n\n{bad}\n")
    with pytest.raises(DataFormatError) as err:
        list(read_ptb_trees(path))
    assert err.value.line == 3 and err.value.path == path
    assert what in err.value.message and f"at column {column}" in err.value.message


def test_error_on_a_later_line_of_a_tree(tmp_path):
    path = write(tmp_path, f"{LOVELY}\n(2 (3 a)\n  (4 b)\n  (5))\n")
    with pytest.raises(DataFormatError) as err:
        list(read_ptb_trees(path))
    assert err.value.line == 4 and "leaf without a word" in err.value.message
    assert "column 5" in err.value.message


def test_deep_trees_parse_and_batch():
    depth = 5000
    tree = parse_ptb("(1 " * depth + "(0 w)" + ")" * depth, "x", 1)
    assert len(tree.children) == depth + 1 and tree.heights()[-1] == depth
    assert tree.spans()[-1] == (0, 1)
    right = parse_ptb("(1 (0 a) " * depth + "(0 z)" + ")" * depth, "x", 1)
    assert len(right.words) == depth + 1 and right.heights()[-1] == depth
    chain = tree_from_heads(["w"] * depth, list(range(2, depth + 1)) + [0], "x", 1)
    assert chain.word[-1] == depth - 1 and chain.word[0] == 0
    batch = encode_trees([[1], [2] * (depth + 1)], [tree, right], None, [0, 1], arity=2)
    assert len(batch.levels) == depth + 1


SENTENCE = ["The", "cat", "sat", "on", "the", "mat", "."]
HEADS = [2, 3, 0, 6, 6, 3, 3]


def test_tree_from_heads():
    tree = tree_from_heads(SENTENCE, HEADS, "x", 4, label="pos")
    check_tree(tree)
    assert tree.words == SENTENCE and tree.line == 4
    assert tree.word == [0, 1, 3, 4, 5, 6, 2]
    assert tree.children == [[], [0], [], [], [2, 3], [], [1, 4, 5]]
    assert tree.labels == [None] * 6 + ["pos"]
    assert tree.spans()[4] == (3, 6) and tree.spans()[-1] == (0, 7)
    assert tree_from_heads(["yes"], [0], "x", 1).children == [[]]


@pytest.mark.parametrize(
    ("heads", "what"),
    [
        ([2, 3, 0, 5, 4], "word 4: no path to the root: its heads run into a cycle (4 -> 5 -> ...)"),
        ([3, 3, 0, 5, 4], "word 4"),
        ([2, 0, 4, 5, 3], "word 3: no path to the root: its heads run into a cycle (3 -> 4 -> 5 -> ...)"),
        ([0, 1, 0, 3, 3], "word 3: a second root (head 0), after word 1"),
        ([2, 1, 1, 1, 1], "no root"),
        ([0, 6, 1, 1, 1], "word 2: head 6 out of range (0 to 5)"),
        ([0, 1, -1, 1, 1], "word 3: head -1 out of range"),
        ([0, 1, 1, 4, 1], "word 4: is its own head"),
        ([0, 1, 1, 1], "5 words but 4 heads"),
    ],
)
def test_bad_heads(heads, what):
    with pytest.raises(DataFormatError) as err:
        tree_from_heads(["a", "b", "c", "d", "e"], heads, "f.conllu", 9)
    assert err.value.line == 9 and what in err.value.message


CONLLU = """\
# sent_id = 1
# label = pos
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t0:root\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_read_conllu_trees(tmp_path):
    (first, label), (second, none) = read_conllu_trees(write(tmp_path, CONLLU, "x.conllu"))
    check_tree(first)
    assert label == "pos" and first.labels[-1] == "pos" and first.labels[:-1] == [None] * 4
    assert first.words == ["I", "ca", "n't", "go", "."]
    assert first.word[first.root] == 3
    assert [first.word[c] for c in first.children[first.root]] == [1, 2, 4]
    assert [first.word[c] for c in first.children[first.children[first.root][1]]] == [0]
    assert first.line == 4 and second.line == 13
    assert none is None and second.words == ["Yes"] and second.labels == [None]


@pytest.mark.parametrize(
    ("edits", "line", "what"),
    [
        ([("RB\t_\t4", "RB\t_\t_")], 7, "HEAD '_' of word 3 is not a number"),
        ([("RB\t_\t4", "RB\t_\tx")], 7, "HEAD 'x' of word 3"),
        ([(".\t_\t4", ".\t_\t9")], 10, "word 5: head 9 out of range"),
        ([("MD\t_\t4", "MD\t_\t3"), ("RB\t_\t4", "RB\t_\t2")], 4,
         "word 1: no path to the root: its heads run into a cycle (3 -> 2 ->"),
        ([("VB\t_\t0", "VB\t_\t5")], 4, "no root"),
        ([("# text", "# label = neg\n# text")], 5, "two '# label =' comments"),
    ],
)
def test_conllu_errors_name_the_line(tmp_path, edits, line, what):
    text = CONLLU
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(DataFormatError) as err:
        list(read_conllu_trees(write(tmp_path, text, "x.conllu")))
    assert err.value.line == line and what in err.value.message


def check_batch(batch, trees, word_ids, node_labels, arity=None):
    """The levels are a bottom-up schedule that holds every node once, with its children in order."""
    offsets = [0]
    for t in trees:
        offsets.append(offsets[-1] + len(t.children))
    n = offsets[-1]
    assert batch.roots.tolist() == [offsets[b + 1] - 1 for b in range(len(trees))]
    assert batch.tree.tolist() == [b for b, t in enumerate(trees) for _ in t.children]
    assert batch.words.tolist() == [word_ids[b][w] if w >= 0 else 0 for b, t in enumerate(trees) for w in t.word]
    if node_labels is None:
        assert batch.labels is None
    else:
        assert batch.labels.tolist() == [x for row in node_labels for x in row]
    level_of = [-1] * n
    for k, (nodes, kids) in enumerate(batch.levels):
        assert nodes.dtype == kids.dtype == torch.long and kids.dim() == 2 and kids.size(0) == nodes.size(0)
        if arity is not None:
            assert kids.size(1) == arity
        for node, row in zip(nodes.tolist(), kids.tolist()):
            assert level_of[node] == -1
            level_of[node] = k
            b = batch.tree[node].item()
            expected = [offsets[b] + c for c in trees[b].children[node - offsets[b]]]
            assert row == expected + [n] * (len(row) - len(expected))
            assert all(level_of[c] != -1 and level_of[c] < k for c in expected)
        if arity is None:
            widest = max(len(trees[batch.tree[x].item()].children[x - offsets[batch.tree[x].item()]]) for x in nodes)
            assert kids.size(1) == max(widest, 1)
    assert -1 not in level_of
    heights = [h for t in trees for h in t.heights()]
    assert level_of == heights


def test_encode_trees():
    trees = [parse_ptb(LOVELY, "x", 1), parse_ptb(NARY, "x", 2), tree_from_heads(SENTENCE, HEADS, "x", 3, "pos")]
    word_ids = [[5, 6, 7], [8, 9, 10, 11, 12], [2, 3, 4, 5, 6, 7, 8]]
    labels = [[int(x) for x in trees[0].labels], list(range(8)), [-1] * 6 + [1]]
    batch = encode_trees(word_ids, trees, labels, [4, 0, 9])
    check_batch(batch, trees, word_ids, labels)
    assert batch.indices == [4, 0, 9] and batch.size == 3
    assert batch.levels[0][1].size(1) == 1  # leaves: one pad column
    assert batch.levels[1][1].size(1) == 3  # the NP's three children
    wide = encode_trees(word_ids, trees, None, [0, 1, 2], arity=3)
    check_batch(wide, trees, word_ids, None, arity=3)
    with pytest.raises(ValueError, match="3 children, more than the arity 2"):
        encode_trees(word_ids, trees, None, [0, 1, 2], arity=2)
    assert [max_children(t) for t in trees] == [2, 3, 3]
    with pytest.raises(ValueError, match="word ids"):
        encode_trees([[1, 2]], trees[:1], None, [0])
    with pytest.raises(ValueError, match="node labels"):
        encode_trees(word_ids[:1], trees[:1], [[0]], [0])


def random_heads(draw, n: int) -> list[int]:
    """Heads of a random tree over n words: each word in a random order attaches to one placed before it."""
    order = draw(st.permutations(range(n)))
    heads = [0] * n
    for k, w in enumerate(order[1:], start=1):
        heads[w] = order[draw(st.integers(0, k - 1))] + 1
    return heads


@st.composite
def forests(draw):
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=5))
    return [random_heads(draw, n) for n in sizes]


@settings(max_examples=150, deadline=None)
@given(forests(), st.booleans())
def test_levels_are_a_bottom_up_schedule(heads_list, labelled):
    trees = [tree_from_heads([f"w{i}" for i in range(len(h))], h, "x", 1) for h in heads_list]
    for heads, tree in zip(heads_list, trees):
        check_tree(tree)  # and the tree gives its heads back:
        back = [0] * len(heads)
        for node, kids in enumerate(tree.children):
            assert [tree.word[c] for c in kids] == sorted(tree.word[c] for c in kids)
            for c in kids:
                back[tree.word[c]] = tree.word[node] + 1
        assert back == heads
    word_ids = [list(range(3, 3 + len(h))) for h in heads_list]
    labels = [list(range(len(t.children))) for t in trees] if labelled else None
    check_batch(encode_trees(word_ids, trees, labels, list(range(len(trees)))), trees, word_ids, labels)


def test_phrases():
    assert phrases(parse_ptb(LOVELY, "x", 1)) == [
        (["It"], "2"), (["'s"], "2"), (["lovely"], "3"), (["'s", "lovely"], "4"), (["It", "'s", "lovely"], "3")
    ]
    assert phrases(tree_from_heads(SENTENCE, HEADS, "x", 1, "pos")) == [(SENTENCE, "pos")]
    assert phrases(tree_from_heads(SENTENCE, HEADS, "x", 1)) == []
