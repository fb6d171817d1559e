"""The modules' dependencies form no cycle (scripts/check_modules.py) and
match the Python dependencies of pyproject.toml."""
import pathlib
import re
import sys
import tomllib

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


def _tryton_requirements(requirements):
    "Tryton module names (trytond_<name>) of pyproject requirement strings."
    names = set()
    for requirement in requirements:
        name = re.match(r'[A-Za-z0-9_.-]+', requirement).group()
        name = name.lower().replace('-', '_').replace('.', '_')
        if name.startswith('trytond_'):
            names.add(name[len('trytond_'):])
    return names


def test_python_dependencies_match_tryton_depends():
    """pyproject's Tryton modules are those our modules depend on: none
    missing, none that no module uses (the benchmarks' in dev)."""
    project = tomllib.loads(
        (check_modules.ROOT / 'pyproject.toml').read_text())['project']
    depends = check_modules.read_depends()
    ours = set(depends)
    required = set().union(*(d for d, _ in depends.values())) - ours
    extras = set().union(*(e for _, e in depends.values())) - ours
    required -= {'ir', 'res'}  # in trytond itself
    listed = _tryton_requirements(project['dependencies'])
    assert required - listed == set(), "missing from dependencies"
    assert listed - required - extras == set(), "used by no module"
