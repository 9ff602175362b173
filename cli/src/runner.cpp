#include "runner.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstring>

#include <boost/asio/co_spawn.hpp>

#include "backoff.hpp"
#include "berth/common/log.hpp"
#include "output_follower.hpp"
#include "task_builder.hpp"

namespace berth::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kConnectTimeout(10);
constexpr std::chrono::seconds kCallTimeout(10);
constexpr std::chrono::seconds kKillGrace(10);
constexpr std::chrono::milliseconds kOutputPollInterval(200);
// While no offer has fitted, declined resources come back soon, in case they grow.
constexpr double kRefuseWhileWaiting = 1;
// Once the task is launched this framework needs nothing more from any agent.
constexpr double kRefuseAfterLaunch = 3600;

// The host ports the task takes: --host_port, and those of its --publish
// mappings (validated already).
std::vector<std::uint64_t> host_ports(const RunOptions& options) {
  std::vector<std::uint64_t> ports(options.host_ports.begin(), options.host_ports.end());
  for (const auto& text : options.publish) {
    if (auto published = parse_publish(text)) ports.push_back(published->host_port);
  }
  return ports;
}

std::chrono::milliseconds to_duration(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

std::string signal_name(int signo) {
  const char* abbrev = ::sigabbrev_np(signo);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signo);
}

}  // namespace

Runner::Runner(asio::any_io_executor executor, RunnerSetup setup)
    : executor_(std::move(executor)),
      options_(std::move(setup.options)),
      framework_(std::move(setup.framework)),
      console_(setup.console),
      ask_{.cpus = options_.cpus, .mem_mb = options_.mem_mb, .disk_mb = options_.disk_mb, .ports = host_ports(options_)},
      master_name_(setup.leader ? options_.master : fmt::format("{}:{}", setup.master.host, setup.master.port)),
      master_(std::move(setup.master), std::move(setup.leader)) {}

asio::awaitable<int> Runner::run() {
  spawn(subscription_loop());
  co_await done_.wait();
  // The final status line waits for the output, so the task's last words come before it.
  if (following_output_ && final_.is_set()) co_await output_done_.wait();
  if (final_status_) console_.status(status_line(task_id(), *final_status_));
  if (framework_.id && !master_lost_) co_await teardown();
  master_.close();
  co_return interrupted_ != 0 ? 128 + interrupted_ : exit_code_.value_or(1);
}

void Runner::interrupt(int signo) {
  if (interrupted_ != 0) {
    console_.notice(fmt::format("{} again: not waiting for task {} any longer",
                                signal_name(signo), task_ ? task_id() : "(none)"));
    finish(128 + signo);
    return;
  }
  interrupted_ = signo;
  spawn(on_interrupt(signo));
}

asio::awaitable<void> Runner::on_interrupt(int signo) {
  if (phase_ != Phase::Launched || tracker_.final()) {
    finish(128 + signo);
    co_return;
  }
  console_.notice(fmt::format("{}: killing task {}", signal_name(signo), task_id()));
  co_await send_kill();
  bool ended = co_await final_.wait_for(kKillGrace);
  if (!ended) {
    console_.notice(fmt::format("task {} did not end within {} s of the kill", task_id(), kKillGrace.count()));
  }
  finish(128 + signo);
}

asio::awaitable<void> Runner::subscription_loop() {
  Backoff backoff;
  auto timeout = to_duration(options_.master_timeout_s);
  auto deadline = Clock::now() + timeout;
  bool reported = false;
  while (!done_.is_set()) {
    auto end = co_await session();
    if (done_.is_set()) co_return;
    if (end.was_subscribed) {
      console_.notice(fmt::format("lost the subscription to master {} ({}); re-subscribing", master_name_,
                                  end.why.error.what()));
      backoff.reset();
      deadline = Clock::now() + timeout;
      reported = true;
    } else if (end.why.kind == SubscribeError::Kind::Refused && !subscribed_once_) {
      console_.notice(fmt::format("master {} refused the subscription: {}", master_name_, end.why.error.what()));
      master_lost_ = true;
      finish(1);
      co_return;
    } else if (Clock::now() >= deadline) {
      console_.notice(fmt::format("could not reach master {} within {:g} s: {}{}", master_name_,
                                  options_.master_timeout_s, end.why.error.what(),
                                  task_ ? "; the master kills the task once --failover_timeout passes" : ""));
      master_lost_ = true;
      finish(1);
      co_return;
    } else if (!reported) {
      console_.notice(fmt::format("cannot reach master {} ({}); retrying for up to {:g} s", master_name_,
                                  end.why.error.what(), options_.master_timeout_s));
      reported = true;
    }
    auto pause = std::min<Clock::duration>(backoff.next(), deadline - Clock::now());
    co_await done_.wait_for(pause);
  }
}

asio::awaitable<Runner::SessionEnd> Runner::session() {
  session_subscribed_ = false;
  // Until SUBSCRIBED says how often the master will speak, do not wait for it forever.
  idle_timeout_ = kConnectTimeout;
  auto opened = co_await master_.subscribe(framework_info(framework_), kConnectTimeout);
  if (!opened) co_return SessionEnd{std::move(opened).error(), false};
  Error broken = co_await follow_events();
  co_return SessionEnd{{SubscribeError::Kind::Unreachable, std::move(broken)}, session_subscribed_};
}

asio::awaitable<Error> Runner::follow_events() {
  for (;;) {
    auto event = co_await master_.next_event(idle_timeout_);
    if (!event) co_return std::move(event).error();
    co_await handle(*event);
  }
}

asio::awaitable<void> Runner::handle(const sched::Event& event) {
  switch (event.type()) {
    case sched::Event::SUBSCRIBED:
      on_subscribed(event.subscribed());
      break;
    case sched::Event::OFFERS:
      co_await on_offers(event.offers().offers());
      break;
    case sched::Event::UPDATE:
      co_await on_update(event.update().status());
      break;
    case sched::Event::ERROR:
      // Mesos semantics: the master has dropped the framework, which must abort.
      console_.notice(fmt::format("master {} reported an error: {}", master_name_, event.error().message()));
      finish(1);
      break;
    default:
      // RESCIND needs nothing: offers are accepted or declined as soon as they come.
      break;
  }
}

void Runner::on_subscribed(const sched::Event::Subscribed& subscribed) {
  framework_.id = subscribed.framework_id();
  idle_timeout_ = idle_timeout_for(subscribed.heartbeat_interval_seconds());
  session_subscribed_ = true;
  if (!subscribed_once_) {
    subscribed_once_ = true;
    log::info("subscribed to master {} as framework {}", master_name_, framework_.id->value());
    spawn(watch_offer_timeout());
    return;
  }
  console_.notice(fmt::format("re-subscribed to master {} as framework {}", master_name_, framework_.id->value()));
  if (kill_requested_ && !tracker_.final()) spawn(send_kill());
}

asio::awaitable<void> Runner::on_offers(const OfferList& offers) {
  if (phase_ != Phase::WaitingForOffer || done_.is_set()) {
    co_await decline(offers, std::nullopt, kRefuseAfterLaunch);
    co_return;
  }
  for (const auto& offer : offers) best_offer_.consider(offer, ask_);
  auto chosen = first_fit(offers, ask_);
  if (chosen) co_await launch(offers.Get(*chosen));
  co_await decline(offers, chosen, chosen ? kRefuseAfterLaunch : kRefuseWhileWaiting);
}

asio::awaitable<void> Runner::launch(const v1::Offer& offer) {
  auto name = options_.name.empty()
                  ? default_task_name(options_.command.empty() ? std::vector{options_.image} : options_.command)
                  : options_.name;
  auto task = build_task_info(options_, offer, take_resources(offer, ask_), make_task_id(name, random_suffix()));
  if (!task) {
    console_.notice(task.error().what());
    finish(1);
    co_return;
  }
  phase_ = Phase::Launched;
  task_ = std::move(*task);

  v1::TaskStatus staging;
  *staging.mutable_task_id() = task_->task_id();
  staging.set_state(v1::TASK_STAGING);
  staging.set_message(fmt::format("launching on agent {}", offer.hostname()));
  report(staging);

  auto accepted = co_await send(accept_call(*framework_.id, offer.id(), *task_, kRefuseAfterLaunch));
  if (!accepted) {
    console_.notice(fmt::format("could not launch task {}: {}", task_id(), accepted.error().what()));
    finish(1);
    co_return;
  }
  following_output_ = true;
  spawn(follow_output(agent_endpoint(offer)));
  if (options_.kill_after_s > 0) spawn(kill_after());
  auto suppressed = co_await send(suppress_call(*framework_.id, options_.role));
  if (!suppressed) log::info("{}", suppressed.error().what());
}

asio::awaitable<void> Runner::on_update(const v1::TaskStatus& status) {
  bool ours = task_ && status.task_id().value() == task_id();
  if (ours) report(status);
  // Every update with a uuid is acknowledged, duplicates too: the agent re-sends it until then.
  if (status.has_uuid() && framework_.id) {
    v1::AgentID agent;
    agent.set_value(ours ? task_->agent_id().value() : "");
    auto acked = co_await send(acknowledge_call(*framework_.id, status, agent));
    if (!acked) log::info("{}", acked.error().what());
  }
}

void Runner::report(const v1::TaskStatus& status) {
  if (!tracker_.observe(status.state(), status.message())) return;
  if (!is_final(status.state())) {
    console_.status(status_line(task_id(), status));
    return;
  }
  final_status_ = status;
  final_.set();
  finish(exit_code_for(status));
}

asio::awaitable<void> Runner::watch_offer_timeout() {
  co_await done_.wait_for(to_duration(options_.offer_timeout_s));
  if (phase_ != Phase::WaitingForOffer || done_.is_set()) co_return;
  console_.notice(best_offer_.timeout_message(ask_, options_.offer_timeout_s));
  finish(1);
}

asio::awaitable<void> Runner::kill_after() {
  bool ended = co_await final_.wait_for(to_duration(options_.kill_after_s));
  if (ended || done_.is_set()) co_return;
  console_.notice(fmt::format("killing task {} after {:g} s (--kill_after)", task_id(), options_.kill_after_s));
  co_await send_kill();
}

asio::awaitable<void> Runner::send_kill() {
  // Remembered, so a kill the master never got is sent again after re-subscribing.
  kill_requested_ = true;
  auto sent = co_await send(kill_call(*framework_.id, task_->task_id(), task_->agent_id()));
  if (!sent) console_.notice(fmt::format("could not ask to kill task {}: {}", task_id(), sent.error().what()));
}

asio::awaitable<void> Runner::follow_output(http::Endpoint agent) {
  OutputFollower follower(std::move(agent), framework_.id->value(), task_id(), console_);
  for (;;) {
    if (final_.is_set()) {
      if (may_have_output(tracker_.started(), *final_status_)) {
        auto drained = co_await follower.catch_up();
        if (!drained) console_.notice(drained.error().what());
      }
      break;
    }
    if (done_.is_set()) break;
    if (tracker_.started()) {
      auto polled = co_await follower.catch_up();
      if (!polled) log::debug("{}", polled.error().what());
    }
    co_await final_.wait_for(kOutputPollInterval);
  }
  output_done_.set();
}

asio::awaitable<void> Runner::teardown() {
  auto sent = co_await send(teardown_call(*framework_.id));
  if (!sent) log::info("{}", sent.error().what());
}

asio::awaitable<void> Runner::decline(const OfferList& offers, std::optional<int> keep, double refuse_seconds) {
  std::vector<v1::OfferID> ids;
  for (int i = 0; i < offers.size(); ++i) {
    if (i != keep) ids.push_back(offers.Get(i).id());
  }
  if (ids.empty()) co_return;
  auto sent = co_await send(decline_call(*framework_.id, ids, refuse_seconds));
  if (!sent) log::info("{}", sent.error().what());
}

asio::awaitable<Result<void>> Runner::send(const sched::Call& call) {
  co_return co_await master_.call(call, kCallTimeout);
}

void Runner::spawn(asio::awaitable<void> task) {
  asio::co_spawn(executor_, std::move(task), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  });
}

void Runner::finish(int exit_code) {
  if (done_.is_set()) return;
  exit_code_ = exit_code;
  done_.set();
}

}  // namespace berth::cli
