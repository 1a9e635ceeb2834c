"""Shared pieces of Kiln's benchmarks: running a process with its time and peak memory, the
machine description, and writing a section of bench/RESULTS.md."""
import os, platform, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREP = os.path.join(ROOT, ".build/release/prep")
WORK = os.path.join(ROOT, "bench/work")
CORPORA = os.path.join(ROOT, "../shared/corpora")

def run(cmd, stdout=subprocess.DEVNULL, env=None):
    """Wall seconds, user+sys seconds and peak RSS (MiB) of one process. The peak comes from
    GNU time: the rusage of a child forked from this (large) Python process would count the
    parent's pages it held before exec."""
    fd, tfile = tempfile.mkstemp()
    os.close(fd)
    t = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", tfile] + cmd, stdout=stdout,
                         stderr=subprocess.PIPE, env=env)
    _, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode()[-2000:]}")
    fields = open(tfile).read().split()[-3:]
    os.unlink(tfile)
    return wall, float(fields[1]) + float(fields[2]), int(fields[0]) / 1024

def run_together(cmds, env=None):
    """Wall seconds (from the start until the last one ends) and summed user+sys seconds of
    processes started at once."""
    files, procs = [], []
    t = time.perf_counter()
    for cmd in cmds:
        fd, tfile = tempfile.mkstemp()
        os.close(fd)
        files.append(tfile)
        procs.append(subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", tfile] + cmd,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env))
    errs = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - t
    cpu = 0.0
    for cmd, p, err, tfile in zip(cmds, procs, errs, files):
        if p.returncode not in (0, 3):
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode()[-2000:]}")
        fields = open(tfile).read().split()[-3:]
        os.unlink(tfile)
        cpu += float(fields[1]) + float(fields[2])
    return wall, cpu

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

def machine():
    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}"

HEADER = "# Benchmark results\n\nWritten by `make bench`; each section by its own benchmark, the summary by bench/summary.py.\n"

def write_section(name, body, first=False):
    """Replaces the section `name` of bench/RESULTS.md, or adds it (at the end, or right after the
    header when `first`)."""
    path = os.path.join(ROOT, "bench/RESULTS.md")
    text = open(path).read() if os.path.exists(path) else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n## {name}\n\n{body}\n{end}"
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    elif first and "\n<!-- " in text:
        k = text.index("\n<!-- ") + 1
        text = text[:k] + block + "\n\n" + text[k:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    open(path, "w").write(text)
