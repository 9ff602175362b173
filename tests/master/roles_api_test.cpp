// Roles through the master's APIs: MULTI_ROLE frameworks and their offers'
// allocation roles, static reservations, SUPPRESS and REVIVE per role,
// invalid roles, and the operator's weights and quota endpoints.

#include <boost/json.hpp>

#include "master_api_fixture.hpp"
#include "support/temp_dir.hpp"

namespace berth::master::testing {
namespace {

namespace json = boost::json;

void multi_role(sched::Call& call, std::vector<std::string> roles) {
  auto* info = call.mutable_subscribe()->mutable_framework_info();
  info->add_capabilities()->set_type(v1::FrameworkInfo::Capability::MULTI_ROLE);
  info->add_capabilities()->set_type(v1::FrameworkInfo::Capability::RESERVATION_REFINEMENT);
  for (auto& role : roles) info->add_roles(role);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void single_role(sched::Call& call, const std::string& role) {
  call.mutable_subscribe()->mutable_framework_info()->set_role(role);
}
#pragma GCC diagnostic pop

std::vector<v1::Offer> offers_of(const EventStream<sched::Event>& stream) {
  std::vector<v1::Offer> out;
  for (const auto& event : stream.events) {
    if (event.type() == sched::Event::OFFERS) out.insert(out.end(), event.offers().offers().begin(), event.offers().offers().end());
  }
  return out;
}

TEST_F(MasterApiTest, AMultiRoleFrameworkIsOfferedPerRoleAndItsTasksKeepTheirRole) {
  register_agent(agent, "cpus:2;mem:1024;cpus(eng):2;mem(eng):512");
  subscribe_framework(framework, [](sched::Call& call) { multi_role(call, {"eng", "ads"}); });
  ASSERT_TRUE(run_until([&] {
    auto offers = offers_of(framework);
    return std::ranges::any_of(offers, [](const auto& o) { return o.allocation_info().role() == "eng"; });
  }));
  v1::Offer eng;
  for (const auto& offer : offers_of(framework)) {
    EXPECT_TRUE(offer.has_allocation_info());
    for (const auto& resource : offer.resources()) {
      EXPECT_EQ(resource.allocation_info().role(), offer.allocation_info().role());
    }
    if (offer.allocation_info().role() == "eng") eng = offer;
  }
  auto pools = ResourcePools::from_proto(eng.resources()).value();
  EXPECT_DOUBLE_EQ(pools.pool("eng").cpus(), 2) << "the reservation comes to eng";

  // A task on the reserved cpus, its resources in the post-refinement format.
  auto t = task("reserved", "cpus:1;mem:64");
  *t.mutable_resources() = ResourcePools::parse("cpus(eng):1;mem(eng):64").value().to_proto(
      ResourcePools::Format::post_refinement, "eng");
  EXPECT_EQ(call("/api/v1/scheduler", accept(eng, {t}), codec::Format::Json, framework.stream_id).result(),
            http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  for (const auto& resource : agent.find(agent::Event::RUN_TASK)->run_task().task().resources()) {
    EXPECT_EQ(resource.allocation_info().role(), "eng");
  }
  auto state = json::parse(send_request(http::Verb::get, "/state").body());
  auto task_json = state.at("frameworks").at(0).at("tasks").at(0);
  EXPECT_EQ(task_json.at("role").as_string(), "eng");
}

TEST_F(MasterApiTest, ASingleRoleFrameworkNeverSeesAnotherRolesReservation) {
  register_agent(agent, "cpus:2;mem:1024;cpus(eng):2;mem(eng):512");
  subscribe_framework(framework, [](sched::Call& call) { single_role(call, "ads"); });
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  io_.run_for(200ms);
  for (const auto& offer : offers_of(framework)) {
    EXPECT_FALSE(offer.has_allocation_info()) << "not MULTI_ROLE: it knows its one role";
    for (const auto& resource : offer.resources()) {
      EXPECT_EQ(resource.reservations_size(), 0);
      EXPECT_FALSE(resource.has_allocation_info());
    }
    EXPECT_EQ(Resources::from_proto(offer.resources()).value(), Resources::parse("cpus:2;mem:1024").value());
  }
}

TEST_F(MasterApiTest, SuppressAndReviveWorkPerRole) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework, [](sched::Call& call) {
    multi_role(call, {"a", "b"});
    call.mutable_subscribe()->add_suppressed_roles("a");
  });
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto first = offers_of(framework);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].allocation_info().role(), "b") << "a was subscribed suppressed";

  auto suppress = framework_call(sched::Call::SUPPRESS);
  suppress.mutable_suppress()->add_roles("b");
  EXPECT_EQ(call("/api/v1/scheduler", suppress, codec::Format::Json, framework.stream_id).result(),
            http::Status::accepted);
  auto decline = framework_call(sched::Call::DECLINE);
  *decline.mutable_decline()->add_offer_ids() = first[0].id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(0);
  EXPECT_EQ(call("/api/v1/scheduler", decline, codec::Format::Json, framework.stream_id).result(),
            http::Status::accepted);
  io_.run_for(300ms);
  EXPECT_EQ(offers_of(framework).size(), 1u) << "both roles suppressed";

  auto revive = framework_call(sched::Call::REVIVE);
  revive.mutable_revive()->add_roles("a");
  EXPECT_EQ(call("/api/v1/scheduler", revive, codec::Format::Json, framework.stream_id).result(),
            http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return offers_of(framework).size() == 2; }));
  EXPECT_EQ(offers_of(framework)[1].allocation_info().role(), "a");

  auto unknown = framework_call(sched::Call::REVIVE);
  unknown.mutable_revive()->add_roles("c");
  auto refused = call("/api/v1/scheduler", unknown, codec::Format::Json, framework.stream_id);
  EXPECT_EQ(refused.result(), http::Status::bad_request);
  EXPECT_NE(refused.body().find("role 'c' is not one of the framework's roles"), std::string::npos) << refused.body();
}

TEST_F(MasterApiTest, InvalidRolesAreRefusedAtSubscription) {
  auto subscribe_with = [&](const std::function<void(sched::Call&)>& customize) {
    sched::Call call;
    call.set_type(sched::Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("test");
    customize(call);
    return send_request(http::Verb::post, "/api/v1/scheduler", codec::encode(codec::Format::Json, call),
                        codec::content_type(codec::Format::Json));
  };
  auto bad_name = subscribe_with([](sched::Call& call) { single_role(call, "eng//web"); });
  EXPECT_EQ(bad_name.result(), http::Status::bad_request);
  EXPECT_NE(bad_name.body().find("'framework_info.role': role 'eng//web' has an empty segment"), std::string::npos)
      << bad_name.body();
  auto roles_without_capability = subscribe_with(
      [](sched::Call& call) { call.mutable_subscribe()->mutable_framework_info()->add_roles("eng"); });
  EXPECT_EQ(roles_without_capability.result(), http::Status::bad_request);
  EXPECT_NE(roles_without_capability.body().find("MULTI_ROLE"), std::string::npos);
  auto suppressed_elsewhere = subscribe_with([](sched::Call& call) {
    multi_role(call, {"a"});
    call.mutable_subscribe()->add_suppressed_roles("b");
  });
  EXPECT_EQ(suppressed_elsewhere.result(), http::Status::bad_request);
  EXPECT_NE(suppressed_elsewhere.body().find("'b'"), std::string::npos);
}

class OperatorRolesTest : public MasterApiTest {
 protected:
  Flags master_flags() override {
    auto flags = MasterApiTest::master_flags();
    flags.work_dir = work_dir_.path().string();
    flags.weights = "ads=0.5";
    return flags;
  }
  berth::testing::TempDir work_dir_;
};

TEST_F(OperatorRolesTest, WeightsAndQuotasAreSetShownAndKeptAcrossARestart) {
  auto weights = json::parse(send_request(http::Verb::get, "/weights").body());
  EXPECT_EQ(json::serialize(weights), R"([{"role":"ads","weight":5E-1}])");
  EXPECT_EQ(send_request(http::Verb::put, "/weights", R"([{"role":"eng","weight":3}])").result(), http::Status::ok);
  auto bad_weight = send_request(http::Verb::put, "/weights", R"([{"role":"eng","weight":0}])");
  EXPECT_EQ(bad_weight.result(), http::Status::bad_request);
  EXPECT_NE(bad_weight.body().find("weight must be positive"), std::string::npos) << bad_weight.body();

  auto quota = R"({"role":"prod","guarantees":{"cpus":{"value":1}},"limits":{"cpus":2,"mem":{"value":512}}})";
  EXPECT_EQ(send_request(http::Verb::post, "/quota", quota).result(), http::Status::ok);
  auto below = send_request(http::Verb::post, "/quota", R"({"role":"x","guarantees":{"cpus":2},"limits":{"cpus":1}})");
  EXPECT_EQ(below.result(), http::Status::bad_request);
  EXPECT_NE(below.body().find("the limit of cpus (1) is below its guarantee (2)"), std::string::npos) << below.body();
  auto unknown_field = send_request(http::Verb::post, "/quota", R"({"role":"x","guarantee":{"cpus":2}})");
  EXPECT_EQ(unknown_field.result(), http::Status::bad_request);
  EXPECT_NE(unknown_field.body().find("unknown field 'guarantee'"), std::string::npos) << unknown_field.body();
  EXPECT_EQ(send_request(http::Verb::post, "/quota", "{not json").result(), http::Status::bad_request);
  EXPECT_EQ(send_request(http::Verb::delete_, "/quota/none").result(), http::Status::not_found);
  EXPECT_EQ(send_request(http::Verb::patch, "/quota").result(), http::Status::method_not_allowed);

  auto roles = json::parse(send_request(http::Verb::get, "/roles").body()).at("roles").as_array();
  std::map<std::string, json::object> by_name;
  for (const auto& role : roles) by_name[std::string(role.at("name").as_string())] = role.as_object();
  ASSERT_TRUE(by_name.contains("prod") && by_name.contains("eng") && by_name.contains("ads"));
  EXPECT_EQ(by_name["eng"].at("weight").as_double(), 3);
  EXPECT_EQ(by_name["prod"].at("quota").at("guarantee").at("cpus").as_double(), 1);
  EXPECT_EQ(by_name["prod"].at("quota").at("limit").at("mem").as_double(), 512);

  // A new master on the same work directory keeps them.
  master_->stop();
  io_.run_for(50ms);
  start_master(master_flags());
  auto kept = json::parse(send_request(http::Verb::get, "/quota").body());
  EXPECT_EQ(kept.at("configs").at(0).at("role").as_string(), "prod");
  EXPECT_EQ(kept.at("configs").at(0).at("limits").at("cpus").at("value").as_double(), 2);
  auto kept_weights = json::serialize(json::parse(send_request(http::Verb::get, "/weights").body()));
  EXPECT_NE(kept_weights.find(R"("role":"eng","weight":3)"), std::string::npos) << kept_weights;
  EXPECT_EQ(send_request(http::Verb::delete_, "/quota/prod").result(), http::Status::ok);
  EXPECT_EQ(json::serialize(json::parse(send_request(http::Verb::get, "/quota").body())), R"({"configs":[]})");
}

TEST_F(MasterApiTest, QuotaLimitsWhatARoleIsOffered) {
  EXPECT_EQ(send_request(http::Verb::post, "/quota", R"({"role":"batch","limits":{"cpus":1}})").result(),
            http::Status::ok);
  register_agent(agent, "cpus:4;mem:1024");
  subscribe_framework(framework, [](sched::Call& call) { single_role(call, "batch"); });
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offered = Resources::from_proto(offers_of(framework)[0].resources()).value();
  EXPECT_DOUBLE_EQ(offered.cpus(), 1);
  EXPECT_DOUBLE_EQ(offered.mem_mb(), 1024);
}

}  // namespace
}  // namespace berth::master::testing
