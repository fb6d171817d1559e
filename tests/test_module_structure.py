"""The modules' dependencies form no cycle (scripts/check_modules.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent
        / 'scripts'))
import check_modules  # noqa: E402


def test_no_cycle_in_our_modules():
    depends = check_modules.read_depends()
    assert {'community_base', 'community_iot'} <= set(depends)
    graph = {m: d | e for m, (d, e) in depends.items()}
    assert check_modules.find_cycle(graph) is None


def test_a_cycle_is_found():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a', 'ir'}}
    assert check_modules.find_cycle(graph) == ['a', 'b', 'c', 'a']


def test_foundation_depends_on_no_module_of_ours():
    depends = check_modules.read_depends()
    deps, extras = depends['community_base']
    assert not (deps | extras) & set(depends)
