#!/usr/bin/env bash
# Checks a container recipe's runtime stage against an installed tree: every shared library that
# the installed programs and modules load (ldd) comes from the tree itself, from a package the
# runtime stage installs (or one of its dependencies, as apt resolves them), or from the base
# image's essential packages; and the stage copies the whole install prefix. Needs dpkg, apt-cache
# and ldd (Debian). Usage: scripts/check_container_libs.sh CONTAINERFILE INSTALLED_PREFIX
# Exit 0 when everything is covered; 1 with the list of what is not.
set -euo pipefail
recipe=${1:?usage: check_container_libs.sh CONTAINERFILE PREFIX}
prefix=${2:?usage: check_container_libs.sh CONTAINERFILE PREFIX}

# The runtime stage: the lines after the last FROM.
stage=$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$recipe")
install_prefix=$(sed -n 's/^ARG SDW_PREFIX=//p' <<<"$stage" | sed -n 1p)
[ -n "$install_prefix" ] || { echo "check_container_libs: no 'ARG SDW_PREFIX=' in the runtime stage of $recipe"; exit 1; }
if ! grep -Eq "^COPY --from=build (\\\$\{SDW_PREFIX\}|$install_prefix) (\\\$\{SDW_PREFIX\}|$install_prefix)\$" <<<"$stage"; then
  echo "check_container_libs: the runtime stage of $recipe does not copy the install prefix $install_prefix whole"
  exit 1
fi
# Its apt packages: the words of the apt-get install command (continued lines joined).
packages=$(printf '%s' "$stage" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -E 'apt-get install' |
  sed -E 's/.*apt-get install//; s/&&.*//' | tr ' ' '\n' | grep -Ev '^(-.*|)$' | sort -u)
[ -n "$packages" ] || { echo "check_container_libs: no apt-get install in the runtime stage of $recipe"; exit 1; }
# What apt brings with them, and what every Debian image has.
available=$( { printf '%s\n' $packages
               apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
                 --no-enhances $packages 2>/dev/null | grep -v '^ ' | sed 's/^<//; s/>$//'
               dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' | awk '$2=="yes" || $3=="required" {print $1}'
             } | sed 's/:.*//' | sort -u)

missing=0
while IFS= read -r -d '' f; do
  [ "$(head -c4 "$f" | od -An -c | tr -d ' \n')" = '177ELF' ] || continue
  while read -r lib path; do
    if [ "$path" = "not" ]; then echo "  $f: $lib not found on this machine"; missing=1; continue; fi
    case "$path" in "$prefix"/*) continue ;; esac
    real=$(readlink -f "$path")
    pkg=$(dpkg -S "$real" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    if [ -z "$pkg" ]; then echo "  $f: $lib ($path) belongs to no Debian package"; missing=1; continue; fi
    if ! grep -qx "$pkg" <<<"$available"; then  # (not printf | grep -q: with pipefail, grep's early exit fails the pipe)
      echo "  $f: $lib is in package $pkg, which the runtime stage neither installs nor gets as a dependency"
      missing=1
    fi
  done < <(ldd "$f" 2>/dev/null | awk '/=>/ {print $1, $3} /not found/ {print $1, "not"}')
done < <(find "$prefix" -type f -print0)
if [ "$missing" -ne 0 ]; then
  echo "check_container_libs: $recipe's runtime stage lacks the libraries above"
  exit 1
fi
echo "check_container_libs: $recipe's runtime stage provides every library of $prefix"
