"""The PixVerse service: every vendor operation as a plain method (no Flask in here).

Routes call exactly one method; each returns the JSON body or raises an
:class:`~mock_server.errors.ApiError`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from mock_server import messages
from mock_server.accounts import Account
from mock_server.accounts import TokenSet
from mock_server.accounts import digest
from mock_server.accounts import mask_secret
from mock_server.buttons import ButtonGraph
from mock_server.clock import PROFILES
from mock_server.clock import Clock
from mock_server.clock import Timing
from mock_server.config import MockConfig
from mock_server.errors import BadRequest
from mock_server.errors import ConnectionDropped
from mock_server.errors import DiscordThrottled
from mock_server.errors import MaxJobsExecuting
from mock_server.errors import Moderated
from mock_server.errors import NotFound
from mock_server.errors import PaymentRequired
from mock_server.errors import ServerFault
from mock_server.errors import Unauthorized
from mock_server.faults import Fault
from mock_server.faults import FaultMarkerError
from mock_server.faults import faults_in_text
from mock_server.generation import GenerationOptions
from mock_server.holding import hold
from mock_server.jobs import Job
from mock_server.media import MediaLibrary
from mock_server.moderation import Moderation
from mock_server.service import seeding
from mock_server.service import validation
from mock_server.service.accounts import account_from_body
from mock_server.service.inputs import RequestInput
from mock_server.service.inputs import present
from mock_server.service.validation import Common
from mock_server.service.validation import Submission
from mock_server.service.views import JobRenderer
from mock_server.store.base import Candidate
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.base import Store

_DISCORD_EPOCH_MS = 1420070400000


@dataclass
class JobPlan:
    """What faults decided about a job before it exists."""

    moderated: bool = False
    fail_with: str | None = None


class PixverseService:
    """The vendor API's behaviour over a :class:`Store` and a :class:`Clock`."""

    def __init__(
        self,
        config: MockConfig,
        store: Store,
        clock: Clock,
        timing: Timing,
        graph: ButtonGraph,
        media: MediaLibrary,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.timing = timing
        self.graph = graph
        self.media = media
        self.renderer = JobRenderer(graph, media)
        self.moderation = Moderation(config.moderation_words)
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()
        self._accepted = TokenSet.of(config.accepted_tokens)
        self._expired = TokenSet.of(config.expired_tokens)
        self._seed_accounts = seeding.accounts_from_config(config.accounts)
        self._seed_jobs = seeding.load_seed_jobs(config.seed_jobs, graph, config.jobs)
        self.generation = GenerationOptions.load(config.generation)
        self.progress_callbacks = config.progress_callbacks

    # --- settings the control plane may change at run time -----------------------------------

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Replace tokens, default accounts, moderation words, button graph or timing profile."""
        if "accepted_tokens" in settings:
            self._accepted = TokenSet.from_mapping(settings["accepted_tokens"])
        if "expired_tokens" in settings:
            self._expired = TokenSet.from_mapping(settings["expired_tokens"])
        if "accounts" in settings:
            self._seed_accounts = [Account(**account) for account in settings["accounts"]]
        if "moderation_words" in settings:
            self.moderation = Moderation(settings["moderation_words"])
        if "button_graph" in settings:
            self.graph = ButtonGraph.from_mapping(settings["button_graph"])
            self.renderer = JobRenderer(self.graph, self.media)
        if "profile" in settings:
            self.timing = PROFILES[settings["profile"]]

    def reseed(self, seed: int) -> None:
        with self._rng_lock:
            self._rng = random.Random(seed)

    def current_settings(self) -> dict[str, Any]:
        """What :meth:`apply_settings` would restore (tokens shown masked)."""
        return {
            "accepted_tokens": self._accepted.masked(),
            "expired_tokens": self._expired.masked(),
            "accounts": [a.view() for a in self._seed_accounts],
            "moderation_words": list(self.moderation.words),
            "button_graph": self.graph.to_mapping(),
            "profile": self.timing.name,
        }

    # --- auth and tenants -------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> str:
        """The tenant of a ``Bearer`` token; 401 for a missing or malformed one, 402 if expired."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized()
        tenant = digest(token)
        if tenant in self._expired.digests:
            raise PaymentRequired()
        if self._accepted.digests and tenant not in self._accepted.digests:
            raise Unauthorized()
        self.store.ensure_tenant(tenant, lambda: self._tenant_seed(tenant))
        return tenant

    def _tenant_seed(self, tenant: str) -> tuple[list[Account], list[Job]]:
        return list(self._seed_accounts), seeding.for_tenant(self._seed_jobs, tenant, self.clock.now())

    # --- jobs --------------------------------------------------------------------------------

    def get_job(self, tenant: str, jobid: str | None, base_url: str) -> dict[str, Any]:
        """``GET jobs/?jobid=``: the job as it stands now."""
        job = self._find(tenant, jobid)
        return self.renderer.render(job, self.clock.now(), base_url)

    def cancel_job(self, tenant: str, jobid: str | None) -> dict[str, Any]:
        """``GET jobs/cancel/?jobid=``: cancel an executing job; a finished one keeps its status."""
        self._find(tenant, jobid)
        now = self.clock.now()
        job = self.store.update_job(tenant, jobid or "", lambda j: j.finish(now, "cancelled"))
        if job is None:
            raise NotFound(messages.JOB_NOT_FOUND.format(jobid=jobid))
        return {"jobid": job.jobid, "status": job.status_at(now), "code": 200}

    def _find(self, tenant: str, jobid: str | None) -> Job:
        if not jobid:
            raise BadRequest(messages.JOBID_NOT_PROVIDED)
        job = self.store.job(tenant, jobid)
        if job is None:
            raise NotFound(messages.JOB_NOT_FOUND.format(jobid=jobid))
        return job

    # --- submits -----------------------------------------------------------------------------

    def submit_meme_face(self, tenant: str, data: RequestInput, base_url: str,
                         faults: Sequence[Fault] = ()) -> dict[str, Any]:
        """``POST meme_face``. ``faults`` (and ``[mock:...]`` markers in the prompts) shape the job."""
        return self._submit(tenant, validation.meme_face_request(data), base_url, faults)

    def submit_create(self, tenant: str, data: RequestInput, base_url: str,
                      faults: Sequence[Fault] = ()) -> dict[str, Any]:
        """``POST create``: four videos."""
        request = validation.create_request(data, self.generation.anime_characters, single=False)
        return self._submit(tenant, request, base_url, faults)

    def submit_create_single(self, tenant: str, data: RequestInput, base_url: str,
                             faults: Sequence[Fault] = ()) -> dict[str, Any]:
        """``POST create_single``: one video, with an optional seed."""
        request = validation.create_request(data, self.generation.anime_characters, single=True)
        return self._submit(tenant, request, base_url, faults)

    def submit_animate(self, tenant: str, data: RequestInput, base_url: str,
                       faults: Sequence[Fault] = ()) -> dict[str, Any]:
        """``POST animate``: one video from an image, of the image's aspect ratio."""
        request = validation.animate_request(data)
        options = self.generation
        assert request.upload is not None
        request = dataclasses.replace(
            request, video_ratio=options.animate_ratio(request.upload[1].data),
            slowdown=options.hd_quality_duration_factor if request.params.get("hd_quality") == "Yes" else 1.0)
        return self._submit(tenant, request, base_url, faults)

    def _submit(self, tenant: str, request: Submission, base_url: str, faults: Sequence[Fault]) -> dict[str, Any]:
        common = request.common
        candidates = self._candidates(tenant, common.discord, request.server, request.channel, common.max_jobs,
                                      request.missing)
        plan = self._plan(tenant, faults, *request.prompts)
        moderated = plan.moderated or self.moderation.flags(*request.prompts)
        uploaded = {}
        if request.upload is not None:
            name, upload = request.upload
            uploaded = {name: {"size": upload.size, "type": upload.content_type}}
        now = self.clock.now()

        def build(candidate: Candidate, sequence: int) -> Job:
            job = self._new_job(tenant, request.verb, candidate, sequence, common, moderated, now, plan,
                                request.slowdown)
            job.result = self.graph.result_of_verb(job.verb)
            job.record = {**uploaded, **request.params, **job.record}
            if request.upload is not None and request.upload[1].filename:
                job.extra["upload_filename"] = request.upload[1].filename
            if request.video_ratio:
                job.extra["video_ratio"] = request.video_ratio
            return job

        return self._admit(tenant, candidates, build, moderated, now, base_url)

    def press_button(self, tenant: str, data: RequestInput, base_url: str,
                     faults: Sequence[Fault] = ()) -> dict[str, Any]:
        """``POST button``. ``faults`` (and ``[mock:...]`` markers in the prompt) shape the job."""
        request = validation.button_request(data, self.graph.prompt_buttons)
        common = request.common
        parent = self.store.job(tenant, request.jobid)
        if parent is None:
            raise NotFound(messages.JOB_NOT_FOUND.format(jobid=request.jobid))
        now = self.clock.now()
        status = parent.status_at(now)
        if status != "completed":
            raise BadRequest(messages.PARENT_NOT_COMPLETED.format(jobid=parent.jobid, status=status))
        if request.button not in self.graph.buttons_of(parent.result):
            raise BadRequest(messages.BUTTON_NOT_SUPPORTED.format(button=request.button))
        configured = self.store.account(tenant, parent.channel)
        if common.discord:
            masked, fingerprint = mask_secret(common.discord), digest(common.discord)
        elif configured:
            masked, fingerprint = configured.discord_masked, configured.discord_digest
        else:
            masked, fingerprint = str(parent.record.get("discord", "")), digest(parent.channel)
        account = Account(parent.channel, str(parent.record.get("server", "")), masked, fingerprint,
                          int(parent.record.get("maxJobs", messages.DEFAULT_MAX_JOBS)),
                          configured.reply_url if configured else None)
        limit = common.max_jobs or account.max_jobs
        parent_params = parent.extra.get("params") or parent.record
        params = {key: parent_params[key] for key in ("prompt", "style", "negative_prompt", "aspect_ratio",
                                                      "character") if parent_params.get(key)}
        if request.prompt:
            params["prompt"] = request.prompt
        plan = self._plan(tenant, faults, request.prompt)
        moderated = plan.moderated or self.moderation.flags(request.prompt)

        def build(candidate: Candidate, sequence: int) -> Job:
            job = self._new_job(tenant, "pixverse-button", candidate, sequence, common, moderated, now, plan)
            job.result = self.graph.result_of_button(request.button, parent.result)
            echo = present({"button": request.button, "prompt": params.get("prompt"),
                             "parentJobId": parent.jobid})
            job.record = {**echo, **job.record}
            job.extra["params"] = params
            if "video_ratio" in parent.extra:
                job.extra["video_ratio"] = parent.extra["video_ratio"]
            return job

        return self._admit(tenant, [Candidate(account, limit)], build, moderated, now, base_url)

    def _candidates(self, tenant: str, discord: str | None, server: str | None, channel: str | None,
                    max_jobs: int | None, missing: str) -> list[Candidate]:
        """Accounts the submit may run on, in the order admission tries them."""
        if discord and server and channel:
            configured = self.store.account(tenant, channel)
            default_limit = configured.max_jobs if configured else messages.DEFAULT_MAX_JOBS
            account = Account.create(discord=discord, server=server, channel=channel, max_jobs=default_limit,
                                     reply_url=configured.reply_url if configured else None)
            return [Candidate(account, max_jobs or default_limit)]
        if channel:
            configured = self.store.account(tenant, channel)
            if configured is None:
                raise BadRequest(missing)
            return [Candidate(configured, max_jobs or configured.max_jobs)]
        accounts = sorted(self.store.accounts(tenant), key=lambda a: a.channel)
        if not accounts:
            raise BadRequest(missing)
        with self._rng_lock:
            self._rng.shuffle(accounts)
        return [Candidate(a, max_jobs or a.max_jobs) for a in accounts]

    def _admit(self, tenant: str, candidates: Sequence[Candidate], build: JobBuilder, moderated: bool,
               now: float, base_url: str) -> dict[str, Any]:
        admitted = self.store.admit(tenant, candidates, now, build)
        if isinstance(admitted, Rejected):
            raise MaxJobsExecuting(admitted.limit, admitted.executing_jobs)
        if moderated:
            raise Moderated(admitted.jobid)
        return self.renderer.render(admitted, now, base_url)

    def _plan(self, tenant: str, faults: Sequence[Fault], *prompts: str | None) -> JobPlan:
        """Faults that shape the new job; any other fault of a prompt marker answers now.

        The edge already answered (or served the delay of) every other fault of the header and the
        queue, so of ``faults`` only the job-shaping ones count here.
        """
        try:
            marked = faults_in_text(*prompts)
        except FaultMarkerError as exc:
            raise BadRequest(messages.FAULT_MARKER_INVALID.format(marker=exc.marker, reason=exc)) from None
        plan = JobPlan()
        for fault in [*(f for f in faults if f.shapes_job), *marked]:
            if fault.kind == "moderated":
                plan.moderated = True
            elif fault.kind == "fail":
                plan.fail_with = fault.message or messages.JOB_FAILED
            else:
                self.raise_fault(fault, tenant)
        return plan

    def raise_fault(self, fault: Fault, tenant: str | None) -> None:
        """Answer as ``fault`` says (raise its error), or hold the answer back (``delay``)."""
        if fault.kind == "delay":
            hold(fault.seconds)
        elif fault.kind == "discord429":
            raise DiscordThrottled()
        elif fault.kind == "unauthorized":
            raise Unauthorized()
        elif fault.kind == "expired":
            raise PaymentRequired()
        elif fault.kind == "server_error":
            raise ServerFault(fault.status or 500, messages.SERVER_FAULT.format(status=fault.status or 500))
        elif fault.kind == "drop":
            raise ConnectionDropped()
        elif fault.kind == "maxjobs429":
            accounts = self.store.accounts(tenant) if tenant else []
            now = self.clock.now()
            executing = [j for a in accounts for j in self.store.executing(tenant or "", a.channel, now)]
            limit = max((a.max_jobs for a in accounts), default=messages.DEFAULT_MAX_JOBS)
            raise MaxJobsExecuting(limit, executing)

    def _new_job(self, tenant: str, verb: str, candidate: Candidate, sequence: int, common: Common,
                 moderated: bool, now: float, plan: JobPlan, slowdown: float = 1.0) -> Job:
        account = candidate.account
        with self._rng_lock:
            progress_at, ends_at = self.timing.schedule(now, self._rng)
        progress_at, ends_at = now + (progress_at - now) * slowdown, now + (ends_at - now) * slowdown
        if moderated:
            progress_at = ends_at = now
        stamp = datetime.fromtimestamp(now, UTC)
        user_id = account.user_id
        jobid = (f"j{stamp:%m%d%H%M%S}{stamp.microsecond // 1000:03d}{sequence % 10000:04d}"
                 f"-u{user_id}-c{account.channel}-bot:pixverse")
        message_id = str(((int(now * 1000) - _DISCORD_EPOCH_MS) << 22) + sequence % 4096)
        record = present({
            "discord": account.discord_masked,
            "server": account.server,
            "channel": account.channel,
            "maxJobs": candidate.limit,
            "replyUrl": common.reply_url or account.reply_url,
            "replyRef": common.reply_ref,
            "messageId": message_id,
        })
        outcome = "moderated" if moderated else "failed" if plan.fail_with else "completed"
        return Job(tenant=tenant, jobid=jobid, verb=verb, channel=account.channel, created=now,
                   progress_at=progress_at, ends_at=ends_at, outcome=outcome, record=record, user_id=user_id,
                   error=plan.fail_with if outcome == "failed" else None,
                   progress_callback=self.progress_callbacks)

    # --- accounts ----------------------------------------------------------------------------

    def list_accounts(self, tenant: str) -> dict[str, Any]:
        """``GET account``: every configured account keyed by channel."""
        accounts = self.store.accounts(tenant)
        if not accounts:
            raise NotFound(messages.ACCOUNT_NOT_FOUND)
        return {a.channel: a.view() for a in sorted(accounts, key=lambda a: a.channel)}

    def get_account(self, tenant: str, channel: str) -> dict[str, Any]:
        """``GET account/{channel}``."""
        account = self.store.account(tenant, channel)
        if account is None:
            raise NotFound(messages.ACCOUNT_NOT_FOUND)
        return account.view()

    def put_account(self, tenant: str, channel: str, data: RequestInput) -> None:
        """``POST account/{channel}``: create or update; answers 204."""
        account = account_from_body(channel, data)
        for other in self.store.accounts(tenant):
            if other.channel != channel and other.discord_digest == account.discord_digest:
                raise BadRequest(messages.ACCOUNT_SAME_DISCORD.format(channel=other.channel))
        self.store.put_account(tenant, account)

    def delete_account(self, tenant: str, channel: str) -> None:
        """``DELETE account/{channel}``; answers 204."""
        if not self.store.delete_account(tenant, channel):
            raise NotFound(messages.ACCOUNT_DELETE_NOT_FOUND)
