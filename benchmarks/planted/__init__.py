"""Planted bugs in the forms real code takes: seed programs and the operators that move them.

`seeds/` holds one small, realistic, buggy training program per rule and framework. Its first
line names what it plants (`# planted: rule=DL002 framework=pytorch`); the statement that
produces the bug carries a `# PRODUCER` comment (the softmax, the `/ 255`, the unsorted
listing, the `optimizer.step()` of a loop without `zero_grad()`), and the line where the bug
shows carries `# BUG` (the loss, the zip, the second division); one line may carry both.

`forms.py` holds the operators: each one rewrites the producer with libcst into another form
real code takes (a helper function, a method, another file, a wrapper, a notebook cell, ...)
and says by the tree's structure, never by a seed's name, whether it applies. The script
`benchmarks/planted_forms.py` lints every (seed x operator) variant and prints recall.
"""
