#!/usr/bin/env bash
# The README's commands as a newcomer types them, each timed (run by scripts/fresh-machine.sh
# as a non-root user with sudo on a clean Debian). Usage: newcomer.sh "run demo test"
# Logs: ~/<step>.log; the times: one `[fresh] step ...` line each, and a table at the end.
set -uo pipefail
steps=" $1 "
cd ~
times=()
failed=0

record() { # name seconds status
  local line
  line=$(printf '%-34s %6s s  %s' "$1" "$2" "$3")
  times+=("$line")
  printf '[fresh] step %s\n' "$line"
}
timed() { # name log command...: run, record its time, show the log's tail when it fails
  local name=$1 log=$2 started rc
  shift 2
  started=$(date +%s)
  "$@" >"$log" 2>&1
  rc=$?
  record "$name" "$(($(date +%s) - started))" "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")"
  if [ $rc != 0 ]; then
    tail -40 "$log" | sed 's/^/    | /'
    failed=1
  fi
  return $rc
}
summary() {
  printf '\n[fresh] the times (%s, %s cores):\n' "$(. /etc/os-release; echo "$PRETTY_NAME")" "$(nproc)"
  printf '[fresh]   %s\n' "${times[@]}"
  [ $failed = 0 ] && echo "[fresh] PASSED" || echo "[fresh] FAILED"
}
trap summary EXIT

timed "git clone" ~/clone.log git clone -q /tmp/origin.git todos-budget || exit 1
cd todos-budget

# make run in its own process group, as in a terminal: Ctrl-C reaches all of it.
stack=
if [[ $steps == *" run "* ]]; then
  started=$(date +%s)
  setsid make run >~/run.log 2>&1 &
  stack=$!
  limit=$((started + 1800))  # 30 min: far beyond any install seen
  while ! grep -q 'STACK READY' ~/run.log; do
    if ! kill -0 "$stack" 2>/dev/null || [ "$(date +%s)" -gt $limit ]; then
      record "make run -> STACK READY" "$(($(date +%s) - started))" FAILED
      tail -60 ~/run.log | sed 's/^/    | /'
      failed=1
      kill -INT -- "-$stack" 2>/dev/null
      exit 1
    fi
    sleep 1
  done
  record "make run -> STACK READY" "$(($(date +%s) - started))" ok
fi

if [[ $steps == *" demo "* ]]; then
  timed "make demo" ~/demo.log make demo && sed 's/^/    | /' ~/demo.log | tail -25
fi

if [ -n "$stack" ]; then
  started=$(date +%s)
  kill -INT -- "-$stack"
  for _ in $(seq 1 60); do kill -0 "$stack" 2>/dev/null || break; sleep 1; done
  if kill -0 "$stack" 2>/dev/null; then
    record "Ctrl-C -> stopped" "$(($(date +%s) - started))" "FAILED (still running)"
    failed=1
    kill -KILL -- "-$stack"
  else
    wait "$stack"
    record "Ctrl-C -> stopped" "$(($(date +%s) - started))" "ok (exit $?)"
  fi
fi

if [[ $steps == *" test "* || $steps == *" test-k "* ]]; then
  if [[ $steps == *" test-k "* ]]; then
    timed "make -k test" ~/test.log make -k test
  else
    timed "make test" ~/test.log make test
  fi
  grep -E '^=+ .*(passed|failed|error).* =+$|^(ok|FAIL) ' ~/test.log | sed 's/^/    | /' | tail -40
fi
exit $failed
