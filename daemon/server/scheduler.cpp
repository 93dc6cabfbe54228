#include "daemon/server/scheduler.h"

#include <algorithm>
#include <optional>

#include "lib/core/log.h"

namespace trustkey::server {

struct Scheduler::Work {
    std::uint64_t owner = 0;
    Caller caller;
    Session session;
    pb::Request request;
    pb::Response response;
    std::atomic<bool> cancelled{false};
    // The key the request names, when the caches resolved it while choosing the queue: the
    // dispatcher takes it rather than resolving the reference again.
    std::optional<backend::KeyRing::Entry> key;
    // Where a Sign's time is recorded (its backend's), null for other requests.
    SignCost* sign_cost = nullptr;
    // A SignBatch run in chunks: the next item to sign and how many there are.
    std::size_t next = 0;
    std::size_t total = 0;

    // However the request ends — answered, refused as busy, dropped from its queue when its
    // client went, or left queued when the daemon stops — the secrets it carried are wiped.
    ~Work() { Dispatcher::wipe_secrets(request); }
};

Scheduler::Scheduler(backend::KeyRing& ring, Dispatcher& dispatcher, Options options, std::function<void()> wake)
    : m_ring(ring), m_dispatcher(dispatcher), m_options(options), m_wake(std::move(wake)) {
    m_options.batch_chunk = std::max<std::size_t>(1, m_options.batch_chunk);
    m_general = std::make_unique<WorkQueue>("general", m_options.general_workers, m_options.max_queued);
    for (backend::Backend* b : m_ring.backends()) {
        std::size_t workers = 1;
        try {
            const backend::BackendStatus st = b->status();
            // A TPM does one thing at a time; a PKCS#11 token as many as its session pool holds.
            if (st.kind != "tpm2") workers = std::max<std::size_t>(1, st.sessions);
        } catch (const std::exception&) {
        }
        spdlog::info("event=work_queue backend={} workers={} max_queued={}", log::quoted(b->name()), workers,
                     m_options.max_queued);
        auto lane = std::make_unique<Lane>();
        lane->queue = std::make_unique<WorkQueue>(b->name(), workers, m_options.max_queued);
        m_lanes.emplace(b, std::move(lane));
    }
}

Scheduler::~Scheduler() {
    // Join every worker before the inbox and the map they use go.
    m_lanes.clear();
    m_general.reset();
}

Scheduler::Lane* Scheduler::lane_for(const pb::Request& request, std::size_t& batch_items,
                                     std::optional<backend::KeyRing::Entry>& key) {
    using Body = pb::Request::BodyCase;
    batch_items = 0;
    const std::string* ref = nullptr;
    const std::string* backend_name = nullptr;
    switch (request.body_case()) {
    case Body::kGetPublicKey: ref = &request.get_public_key().key(); break;
    case Body::kSign: ref = &request.sign().key(); break;
    case Body::kSignBatch: ref = &request.sign_batch().key(); break;
    case Body::kDeleteKey: ref = &request.delete_key().key(); break;
    case Body::kAnnotateKey: ref = &request.annotate_key().key(); break;
    case Body::kLogin:
        if (!request.login().key().empty())
            ref = &request.login().key();
        else
            backend_name = &request.login().backend();
        break;
    case Body::kGenerateKey: backend_name = &request.generate_key().backend(); break;
    case Body::kImportKey: backend_name = &request.import_key().backend(); break;
    default: break;
    }
    const backend::Backend* b = nullptr;
    if (ref) {
        if (auto entry = m_ring.resolve_cached(*ref)) {
            b = entry->backend;
            if (request.body_case() == Body::kSignBatch) {
                const auto n = static_cast<std::size_t>(request.sign_batch().items_size());
                // A batch over the key type's limit goes whole, to be refused as it is.
                if (n > m_options.batch_chunk && n <= Dispatcher::batch_limit(entry->info->type)) batch_items = n;
            }
            key = std::move(entry);
        }
    } else if (backend_name) {
        try {
            b = &m_ring.backend(*backend_name);
        } catch (const Error&) {
            // The handler reports the unknown backend.
        }
    }
    if (b)
        if (auto it = m_lanes.find(b); it != m_lanes.end()) return it->second.get();
    return nullptr;
}

std::optional<pb::Response> Scheduler::try_inline(Lane& lane, const backend::KeyRing::Entry& key,
                                                  const pb::Request& request, const Caller& caller,
                                                  Session& session) noexcept {
    if (m_options.inline_sign_limit.count() <= 0) return std::nullopt;
    const auto expected = lane.sign_cost.expected(key.info->type);
    if (!expected || *expected > m_options.inline_sign_limit) return std::nullopt;
    // A token that must log in first (perhaps asking the user) does so on a worker.
    if (!key.backend->ready_to_sign()) return std::nullopt;
    try {
        if (!lane.queue->try_begin_inline()) return std::nullopt;
    } catch (...) {
        return std::nullopt;
    }
    const auto started = std::chrono::steady_clock::now();
    Session attempt = session;
    pb::Response response = m_dispatcher.handle(request, caller, attempt, &key, false);
    const auto took = std::chrono::steady_clock::now() - started;
    lane.queue->end_inline();
    // The login went meanwhile: nothing was signed, and a worker may ask for the PIN.
    if (response.status() == pb::STATUS_PIN_REQUIRED) return std::nullopt;
    session = attempt;
    if (response.status() == pb::STATUS_OK) lane.sign_cost.record(key.info->type, took);
    return response;
}

Scheduler::Submitted Scheduler::submit(std::uint64_t owner, const Caller& caller, Session& session,
                                       pb::Request request) {
    using Outcome = Submitted::Outcome;
    std::size_t batch_items = 0;
    std::optional<backend::KeyRing::Entry> key;
    Lane* lane = lane_for(request, batch_items, key);
    const bool sign = request.body_case() == pb::Request::BodyCase::kSign && lane && key;
    const auto now = std::chrono::steady_clock::now();
    if (owner != m_last_owner) {
        m_last_owner = owner;
        m_alone_since = now;
    }
    // A key whose use the user confirms is never signed on the loop: asking blocks.
    if (sign && now - m_alone_since >= m_options.inline_alone_after && !m_dispatcher.needs_confirmation(*key->info)) {
        if (auto response = try_inline(*lane, *key, request, caller, session)) {
            Dispatcher::wipe_secrets(request);
            return Submitted{Outcome::answered, std::move(*response)};
        }
    }
    auto work = std::make_shared<Work>();
    work->owner = owner;
    work->caller = caller;
    work->session = session;
    work->request = std::move(request);
    work->key = std::move(key);
    if (sign) work->sign_cost = &lane->sign_cost;
    WorkQueue& queue = lane ? *lane->queue : *m_general;
    WorkQueue::Job job;
    job.owner = owner;
    if (batch_items > 0) {
        work->total = batch_items;
        job.run = [this, work, &queue] { run_chunk(work, queue); };
    } else {
        job.run = [this, work] { run_whole(work); };
    }
    {
        std::lock_guard lock(m_mutex);
        m_running[owner] = work;
    }
    if (queue.push(std::move(job))) return Submitted{Outcome::queued, {}};
    std::lock_guard lock(m_mutex);
    m_running.erase(owner);
    return Submitted{Outcome::busy, {}};
}

std::size_t Scheduler::forget(std::uint64_t owner) {
    std::size_t dropped = m_general->drop(owner);
    for (auto& [b, lane] : m_lanes) dropped += lane->queue->drop(owner);
    m_dropped += dropped;
    std::shared_ptr<Work> running;
    {
        std::lock_guard lock(m_mutex);
        if (auto it = m_running.find(owner); it != m_running.end()) {
            running = std::move(it->second);
            m_running.erase(it);
        }
    }
    if (running) running->cancelled = true;
    return dropped;
}

void Scheduler::run_whole(const std::shared_ptr<Work>& work) noexcept {
    if (work->cancelled) {
        ++m_dropped;
        return;
    }
    const auto started = std::chrono::steady_clock::now();
    work->response = m_dispatcher.handle(work->request, work->caller, work->session, work->key ? &*work->key : nullptr);
    if (work->sign_cost && work->response.status() == pb::STATUS_OK)
        work->sign_cost->record(work->key->info->type, std::chrono::steady_clock::now() - started);
    Dispatcher::wipe_secrets(work->request);
    post(work);
}

void Scheduler::run_chunk(const std::shared_ptr<Work>& work, WorkQueue& queue) noexcept {
    if (work->cancelled) {
        ++m_dropped;
        return;
    }
    try {
        const pb::SignBatch& whole = work->request.sign_batch();
        pb::Request part;
        part.set_id(work->request.id());
        pb::SignBatch* items = part.mutable_sign_batch();
        items->set_key(whole.key());
        items->set_hash(whole.hash());
        const std::size_t end = std::min(work->next + m_options.batch_chunk, work->total);
        for (std::size_t i = work->next; i < end; ++i) items->add_items(whole.items(static_cast<int>(i)));
        if (work->next == 0 && work->key) {
            // The user confirms the whole batch once, before its first part is signed.
            if (auto refused = m_dispatcher.confirm_batch(work->request, work->caller, *work->key)) {
                work->response = std::move(*refused);
                ++work->session.requests;
                post(work);
                return;
            }
        }
        Session session = work->session;
        pb::Response r = m_dispatcher.handle(part, work->caller, session, work->key ? &*work->key : nullptr, true,
                                             true);
        if (r.status() != pb::STATUS_OK) {
            work->response = std::move(r);
            ++work->session.requests;
            post(work);
            return;
        }
        pb::SignBatchReply* reply = work->response.mutable_sign_batch();
        for (auto& sig : *r.mutable_sign_batch()->mutable_signatures()) reply->add_signatures(std::move(sig));
        reply->set_key_id(r.sign_batch().key_id());
        reply->set_method(r.sign_batch().method());
        work->next = end;
        if (work->next == work->total) {
            work->response.set_id(work->request.id());
            ++work->session.requests;
            post(work);
            return;
        }
        if (work->cancelled) {
            ++m_dropped;
            return;
        }
        queue.push_continuation(WorkQueue::Job{work->owner, [this, work, &queue] { run_chunk(work, queue); }});
    } catch (...) {
        work->response.Clear();
        work->response.set_id(work->request.id());
        work->response.set_status(pb::STATUS_INTERNAL);
        work->response.set_message("internal error");
        post(work);
    }
}

void Scheduler::post(const std::shared_ptr<Work>& work) noexcept {
    try {
        {
            std::lock_guard lock(m_mutex);
            if (auto it = m_running.find(work->owner); it != m_running.end() && it->second == work)
                m_running.erase(it);
            if (work->cancelled) return;  // its connection is gone
            m_inbox.push_back(Completion{work->owner, std::move(work->response), work->session, {}});
        }
        if (m_wake) m_wake();
    } catch (...) {
        spdlog::error("event=completion_lost connection={}", work->owner);
    }
}

bool Scheduler::run_task(const backend::Backend* backend, std::uint64_t owner,
                         std::function<std::function<void()>()> task, bool must_run) {
    auto it = m_lanes.find(backend);
    WorkQueue& queue = it != m_lanes.end() ? *it->second->queue : *m_general;
    WorkQueue::Job job;
    job.owner = owner;
    job.run = [this, owner, task = std::move(task)] {
        std::function<void()> then;
        try {
            then = task();
        } catch (const std::exception& e) {
            spdlog::error("event=internal_task_error error={}", log::quoted(e.what()));
        } catch (...) {
            spdlog::error("event=internal_task_error");
        }
        if (!then) return;
        try {
            {
                std::lock_guard lock(m_mutex);
                Completion c;
                c.connection = owner;
                c.then = std::move(then);
                m_inbox.push_back(std::move(c));
            }
            if (m_wake) m_wake();
        } catch (...) {
            spdlog::error("event=completion_lost connection={}", owner);
        }
    };
    if (!must_run) return queue.push(std::move(job));
    queue.push_continuation(std::move(job));
    return true;
}

std::vector<Completion> Scheduler::take_completions() {
    std::vector<Completion> out;
    std::lock_guard lock(m_mutex);
    out.swap(m_inbox);
    return out;
}

} // namespace trustkey::server
