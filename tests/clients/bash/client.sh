#!/usr/bin/env bash
# A PixVerse v1 client in bash with curl and jq that runs a task of the kit's command protocol
# (contract_tests/PROTOCOL.md) and keeps the client contract. It runs the jobs one after another (so
# never more than one executes: within any maxJobs), waits 10 s after a 429 and retries only 429s,
# polls every 10 s until the final status, downloads the videos, and presses a button only on a
# completed parent. In callback mode it sends replyUrl but does not listen: it takes the protocol's
# fallback and polls.
#
# Run by the kit: pixverse-contract check --client "bash tests/clients/bash/client.sh"
set -euo pipefail

TASK=$(cat "$PIXVERSE_TASK")
BASE_URL=${PIXVERSE_BASE_URL%/}
# Under faketime (the default) sleep is accelerated for us; with --no-faketime the kit sets
# PIXVERSE_WAIT_SCALE to the time scale and every wait is divided by it.
WAIT_SCALE=${PIXVERSE_WAIT_SCALE:-1}
DOWNLOADS=$(jq -r .download_dir <<<"$TASK")
REPLY_URL=$(jq -r '.callbacks.reply_url // empty' <<<"$TASK")
MAX_RETRIES=20
MAX_POLLS=200
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DOWNLOADS"
declare -A JOBID OUTCOME

wait_seconds() { sleep "$(awk -v s="$1" -v k="$WAIT_SCALE" 'BEGIN { printf "%.3f", s / k }')"; }

# call METHOD PATH [curl args...]: the body lands in $WORK/body, the HTTP status is printed.
call() {
  local method=$1 path=$2
  shift 2
  curl -sS -o "$WORK/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $PIXVERSE_TOKEN" \
    "$@" "$BASE_URL/pixverse/$path"
}

error_of() { jq -r '.error // empty' "$WORK/body" 2>/dev/null || true; }

# The curl arguments of a submit: meme_face as multipart (fields as text parts), a button as JSON.
submit_args() {
  local job=$1 parent_jobid=$2
  local endpoint fields
  endpoint=$(jq -r .endpoint <<<"$job")
  fields=$(jq -c --arg reply "$REPLY_URL" '.fields + (if $reply != "" and .fields.replyUrl == null
            then {replyUrl: $reply} else {} end) + (if .prompt != null then {prompt: .prompt} else {} end)' <<<"$job")
  if [[ $endpoint == meme_face ]]; then
    while IFS=$'\t' read -r name value; do
      printf '%s\0' --form-string "$name=$value"
    done < <(jq -r 'to_entries[] | [.key, (.value | tostring)] | @tsv' <<<"$fields")
    printf '%s\0' -F "face=@$(jq -r .face <<<"$job");type=image/png"
  else
    printf '%s\0' -H 'Content-Type: application/json' --data-binary \
      "$(jq -c --arg parent "$parent_jobid" --arg button "$(jq -r .button <<<"$job")" \
        '. + {jobid: $parent, button: $button}' <<<"$fields")"
  fi
}

report() { jq -c "$@" >>"$WORK/results"; }

run_job() {
  local job=$1 id endpoint parent parent_jobid="" status args=()
  id=$(jq -r .id <<<"$job")
  endpoint=$(jq -r .endpoint <<<"$job")
  parent=$(jq -r '.parent // empty' <<<"$job")
  if [[ -n $parent ]]; then
    if [[ ${OUTCOME[$parent]:-} != completed ]]; then
      report -n --arg job "$id" '{job: $job, outcome: "skipped"}'
      return
    fi
    parent_jobid=${JOBID[$parent]}
  fi
  while IFS= read -r -d '' arg; do args+=("$arg"); done < <(submit_args "$job" "$parent_jobid")
  for ((attempt = 0; ; attempt++)); do
    status=$(call POST "$endpoint" "${args[@]}")
    [[ $status == 429 && $attempt -lt $MAX_RETRIES ]] || break
    wait_seconds 10
  done
  if [[ $status != 200 ]]; then
    report -n --arg job "$id" --argjson code "$status" --arg message "$(error_of)" \
      '{job: $job, outcome: "error", code: $code, message: $message}'
    return
  fi
  local jobid state
  jobid=$(jq -r .jobid "$WORK/body")
  state=$(jq -r .status "$WORK/body")
  for ((polls = 0; polls < MAX_POLLS; polls++)); do
    case $state in completed | failed | moderated | cancelled) break ;; esac
    wait_seconds 10
    status=$(call GET "jobs/?jobid=$(jq -rn --arg j "$jobid" '$j | @uri')")
    if [[ $status != 200 ]]; then
      report -n --arg job "$id" --argjson code "$status" --arg message "$(error_of)" --arg jobid "$jobid" \
        '{job: $job, outcome: "error", code: $code, message: $message, jobid: $jobid}'
      return
    fi
    state=$(jq -r .status "$WORK/body")
  done
  JOBID[$id]=$jobid
  OUTCOME[$id]=$state
  if [[ $state != completed ]]; then
    report --arg job "$id" '{job: $job, outcome: "job_failed", jobid: .jobid, status: .status, message: .error}' \
      "$WORK/body"
    return
  fi
  local files=() index=0 url
  cp "$WORK/body" "$WORK/record"
  while IFS= read -r url; do
    files+=("$DOWNLOADS/$id-$index.mp4")
    curl -sSf -o "$DOWNLOADS/$id-$index.mp4" "$url" # a CDN url: no token
    index=$((index + 1))
  done < <(jq -r '.attachments[]?.url' "$WORK/record")
  report -n --arg job "$id" --arg jobid "$jobid" '{job: $job, outcome: "completed", jobid: $jobid,
    files: $ARGS.positional}' --args "${files[@]}"
}

touch "$WORK/results"
while IFS= read -r job; do run_job "$job"; done < <(jq -c '.jobs[]' <<<"$TASK")
jq -s '{results: .}' "$WORK/results" >"$PIXVERSE_REPORT"
