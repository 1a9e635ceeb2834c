#!/usr/bin/env bash
# Installs the Debian packages Kiln needs, only those that are missing; quiet when none is.
# Runs apt-get through sudo when not root.
set -euo pipefail
packages=(
  pkg-config
  libarchive-dev   # archives: tar, zip, 7z, cpio and their compressions
  zlib1g-dev       # gzip writing, and the reference decoder the tests hold ISA-L to
  libisal-dev      # gzip inflate (Intel ISA-L's igzip), the fast path
  libzstd-dev      # zstd
  libopenblas-dev  # sgemm for the GPT engine (loaded at run time by the BLAS module)
  libarchive-tools # bsdtar: builds archive fixtures in the tests
  zstd xz-utils bzip2 gzip
  time             # GNU time: peak memory in the benchmarks
  openmpi-bin libopenmpi-dev  # MPI: `mpirun -np N tune run` trains on N processes or machines
)
# `scripts/deps.sh test` adds what only the test suite needs.
if [ "${1:-}" = "test" ]; then
  packages+=(chromium)   # headless: checks that the pipeline's HTML report renders
  packages+=(slurmctld slurmd slurm-client munge)  # a one-node Slurm cluster for `prep run --slurm`
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "make deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
