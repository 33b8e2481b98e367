#!/usr/bin/env python3
"""Prints each file's project #includes and fails on a cycle.

Usage: tools/include-graph.py [--quiet] DIR [--forbid A->B]...

Only quoted includes ("x.h") of files in DIR count. A file and its header
(foo.c, foo.h) are one node "foo": a cycle among nodes means two modules
depend on each other, even when the headers alone would not loop.
--forbid A->B additionally fails when module A includes module B (a
dependency that must point the other way). Exit 0: acyclic; 1: a cycle
or a forbidden edge (printed); 2: usage.
"""
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(argv):
    quiet = False
    forbid = []
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == '--quiet':
            quiet = True
        elif a == '--forbid':
            e = next(it, '')
            if '->' not in e:
                print('--forbid wants A->B', file=sys.stderr)
                return 2
            forbid.append(tuple(e.split('->', 1)))
        else:
            args.append(a)
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    top = args[0]
    files = sorted(f for f in os.listdir(top) if f.endswith(('.c', '.h')))
    mods = {os.path.splitext(f)[0] for f in files}
    graph = {m: set() for m in mods}
    for f in files:
        with open(os.path.join(top, f), encoding='utf-8') as fh:
            incs = [i for i in INC.findall(fh.read())
                    if os.path.splitext(os.path.basename(i))[0] in mods
                    and os.path.exists(os.path.join(top, i))]
        if not quiet:
            print('%s: %s' % (f, ' '.join(incs) if incs else '-'))
        me = os.path.splitext(f)[0]
        for i in incs:
            dep = os.path.splitext(i)[0]
            if dep != me:
                graph[me].add(dep)
    bad = 0
    for a, b in forbid:
        if b in graph.get(a, ()):
            print('forbidden dependency: %s includes %s' % (a, b))
            bad = 1
    # Depth-first search for a back edge; prints the cycle it closes.
    state = {m: 0 for m in graph}
    stack = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state[d] == 1:
                cyc = stack[stack.index(d):] + [d]
                print('include cycle: ' + ' -> '.join(cyc))
                return True
            if state[d] == 0 and visit(d):
                return True
        stack.pop()
        state[m] = 2
        return False

    for m in sorted(graph):
        if state[m] == 0 and visit(m):
            return 1
    if not quiet:
        print('%s: %d modules, no include cycle' % (top, len(graph)))
    return bad


if __name__ == '__main__':
    sys.exit(main(sys.argv))
