"""Check the module structure: every module under addons/ depends only on
modules that exist (Tryton's or ours) and our modules' dependencies form
no cycle. Prints each module with its dependencies; exits 1 on a cycle or
an unknown dependency.

Used by ``make test`` (tests/test_module_structure.py) and by hand:
``python scripts/check_modules.py``.
"""
import configparser
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def read_depends(root=ROOT):
    "Map of our module name to the set of modules its tryton.cfg depends on."
    depends = {}
    for cfg in sorted((root / 'addons').glob('*/tryton.cfg')):
        parser = configparser.ConfigParser()
        parser.read(cfg, encoding='utf-8')
        names = parser.get('tryton', 'depends', fallback='').split()
        extras = parser.get('tryton', 'extras_depend', fallback='').split()
        depends[cfg.parent.name] = set(names), set(extras)
    return depends


def find_cycle(graph):
    """Return a list of module names forming a cycle in ``graph`` (name ->
    iterable of names), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack = []

    def visit(node):
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if colour[nxt] == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def main():
    depends = read_depends()
    graph = {m: d | e for m, (d, e) in depends.items()}
    for module, (deps, extras) in depends.items():
        ours = sorted(d for d in deps if d in depends)
        theirs = sorted(d for d in deps if d not in depends)
        line = '%-22s -> %s' % (module, ', '.join(ours) or '-')
        line += '  (Tryton: %s)' % ', '.join(theirs)
        if extras:
            line += '  (optional: %s)' % ', '.join(sorted(extras))
        print(line)
    cycle = find_cycle(graph)
    if cycle:
        print('dependency cycle: %s' % ' -> '.join(cycle), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
