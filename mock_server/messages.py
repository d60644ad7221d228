"""Every error string the mock answers, quoted exactly from the vendor pages.

Strings marked ``[seed]`` are on the `meme_face` / `button` pages, ``[doc]`` on other PixVerse v1
pages (account, jobs/cancel), ``[pattern]`` follow the seed pages' wording for fields of the
create, create_single and animate pages (whose answers were not published), ``[mock]`` are the
mock's own choice where the vendor is silent (listed in the README under "Assumptions").
Placeholders use ``str.format`` fields.
"""

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
STYLES = ("Realistic", "Anime", "3D Animation")
ANIME_STYLE = "Anime"
HD_QUALITY = ("Yes", "No")
MOTION_MIN, MOTION_MAX, MOTION_DEFAULT = 1, 10, 5
BUTTONS = ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔄", "🔀")
SEED_VALUE_MAX = 2147483647
PROMPT_MAX = 512
REPLY_MAX = 1024
DEFAULT_MAX_JOBS = 10
MAX_CONCURRENT_JOBS = 10

# Common [doc]
UNAUTHORIZED = "Unauthorized"
SUBSCRIPTION_EXPIRED = "Account has no subscription or subscription expired"

# meme_face [seed]
MEME_FACE_MISSING = "face, prompt, discord, server or channel value is missing"
MEME_FACE_TOO_LONG = "prompt, negative_prompt, replyRef or replyUrl is too long"
FACE_NOT_FILE = "face is not File or Blob"
ASPECT_RATIO_NOT_SUPPORTED = "aspect_ratio {aspect_ratio} not supported, must be one of {supported}"
SEED_VALUE_RANGE = "seed_value {seed_value} valid range 0-2147483647"

# create, create_single [pattern]
CREATE_MISSING = "prompt, style, discord, server or channel value is missing"
CREATE_TOO_LONG = MEME_FACE_TOO_LONG
STYLE_NOT_SUPPORTED = "style {style} not supported, must be one of {supported}"
CHARACTER_NOT_SUPPORTED = "character {character} not supported, must be one of {supported}"

# animate [pattern]
ANIMATE_MISSING = "image, discord, server or channel value is missing"
ANIMATE_TOO_LONG = "prompt, replyRef or replyUrl is too long"
IMAGE_NOT_FILE = "image is not File or Blob"
MOTION_RANGE = "motion {motion} valid range 1-10"
HD_QUALITY_NOT_SUPPORTED = "hd_quality {hd_quality} not supported, must be one of Yes, No"

# button [seed]
BUTTON_MISSING = "jobid or button value is missing"
BUTTON_NOT_SUPPORTED = "button {button} not supported"
BUTTON_TOO_LONG = "prompt, replyRef or replyUrl is too long"
BUTTON_NO_PROMPT = "button {button} does not support prompt"

# Both submit endpoints [seed]
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
MAX_JOBS_EXECUTING = "Maximum of {max_jobs} jobs executing in parallel supported"
DISCORD_THROTTLED = "Discord /interactions failed with HTTP status 429"
DISCORD_THROTTLED_DETAILS = '{"global":true,"message":"You are being rate limited.","retry_after":10}'

# jobs and jobs/cancel [doc]
JOBID_NOT_PROVIDED = "Query param jobid not provided"
JOB_NOT_FOUND = "Unable to locate job {jobid}"

# account [doc]
ACCOUNT_PARAM_MISSING = "Required param {name} is missing or empty"
ACCOUNT_CHANNEL_INVALID = "Required param channel ({channel}) is not valid Discord channel id"
ACCOUNT_CHANNEL_MISMATCH = "Required param channel ({channel}) not matching to /pixverse/account/{path_channel}"
ACCOUNT_MAX_JOBS_TOO_MANY = "Required param maxJobs {max_jobs} can't be more that {max_concurrent}"  # sic
ACCOUNT_SAME_DISCORD = "Channel {channel} configuration has same discord value"
ACCOUNT_NOT_FOUND = "Configuration not found. To create configuration use pixverse/account/<channel>."
ACCOUNT_DELETE_NOT_FOUND = "Configuration not found for provided channel"

# [mock] choices where the vendor pages are silent
MAX_JOBS_RANGE = "maxJobs {max_jobs} valid range 1-10"
ACCOUNT_MAX_JOBS_INVALID = "Required param maxJobs ({max_jobs}) must be a number between 1 and 10"
FACE_NOT_IMAGE = "face is not a jpg/png/jpeg image"
IMAGE_NOT_IMAGE = "image is not a jpg/png/jpeg image"
PARENT_NOT_COMPLETED = "Job {jobid} status is {status}, button requires a completed job"
JOB_FAILED = "PixVerse failed to generate the video"
NOT_FOUND = "Not found: {method} {path}"
METHOD_NOT_ALLOWED = "Method {method} not allowed for {path}"
PAYLOAD_TOO_LARGE = "Request body larger than {limit} bytes"
FIELD_TOO_LARGE = "Request field larger than {limit} bytes (a multipart text field)"
TOO_MANY_PARTS = "Request has more than {limit} multipart parts"
BODY_TRUNCATED = "request body ended before its Content-Length of {expected} bytes"
JSON_TOO_DEEP = "JSON body nested deeper than {limit} levels"
BAD_REQUEST = "Malformed request: {detail}"
INTERNAL = "Internal mock error: {detail}"
SERVER_FAULT = "Server error {status} (fault injection)"
FAULT_NEEDS_SUBMIT = "fault {fault} applies to create, create_single, animate, meme_face and button only"
FAULT_MARKER_INVALID = "[mock:{marker}]: {reason}"
