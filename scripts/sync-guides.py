#!/usr/bin/env python3
"""Copies each file a guide shows (a ```rust block starting with `// file: PATH`) into the
guide again, after the file changed. tests/tests/guides.rs fails until the two agree."""
import glob
import os

os.chdir(os.path.join(os.path.dirname(__file__), ".."))


def sync(text):
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        if line.rstrip() == "```rust" and i + 1 < len(lines) and lines[i + 1].startswith("// file: "):
            path = lines[i + 1][len("// file: "):].strip()
            out.append(lines[i + 1])
            j = i + 2
            while lines[j].rstrip() != "```":
                j += 1
            with open(path) as f:
                out.extend(f.read().rstrip("\n").split("\n"))
            out.append("```")
            i = j + 1
            continue
        i += 1
    return "\n".join(out)


for guide in sorted(glob.glob("docs/guides/*.md")):
    with open(guide) as f:
        text = f.read()
    synced = sync(text)
    if synced != text:
        with open(guide, "w") as f:
            f.write(synced)
        print("synced", guide)
