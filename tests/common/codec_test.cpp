#include "berth/common/codec.hpp"

#include <gtest/gtest.h>

#include "mesos/v1/scheduler.pb.h"

namespace berth::codec {
namespace {

namespace sched = berth::mesos::v1::scheduler;
namespace v1 = berth::mesos::v1;

TEST(Codec, ContentTypes) {
  EXPECT_EQ(from_content_type("application/json").value(), Format::Json);
  EXPECT_EQ(from_content_type("application/json; charset=utf-8").value(), Format::Json);
  EXPECT_EQ(from_content_type("application/x-protobuf").value(), Format::Protobuf);
  auto bad = from_content_type("text/html");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("text/html"), std::string::npos);
  EXPECT_FALSE(from_content_type(""));
}

TEST(Codec, Accept) {
  EXPECT_EQ(from_accept(""), Format::Json);
  EXPECT_EQ(from_accept("*/*"), Format::Json);
  EXPECT_EQ(from_accept("application/x-protobuf"), Format::Protobuf);
  EXPECT_EQ(from_accept("text/html, application/json;q=0.9"), Format::Json);
  EXPECT_EQ(from_accept("text/html"), std::nullopt);
}

sched::Call subscribe_call() {
  sched::Call call;
  call.set_type(sched::Call::SUBSCRIBE);
  auto* info = call.mutable_subscribe()->mutable_framework_info();
  info->set_user("root");
  info->set_name("test");
  info->set_failover_timeout(10);
  return call;
}

TEST(Codec, JsonUsesProtoFieldAndEnumNamesLikeMesos) {
  auto json = encode(Format::Json, subscribe_call());
  EXPECT_NE(json.find(R"("type":"SUBSCRIBE")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("framework_info")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("failover_timeout":10)"), std::string::npos) << json;
}

// As Mesos writes JSON: 64-bit integers as numbers (protobuf's own printer
// quotes them), bytes in base64, maps as objects, doubles in their short form.
TEST(Codec, JsonNumbersBytesAndMapsAreWrittenAsMesosWritesThem) {
  v1::TaskInfo task;
  task.set_name("t");
  task.mutable_task_id()->set_value("t");
  task.mutable_agent_id()->set_value("a");
  auto* ports = task.add_resources();
  ports->set_name("ports");
  ports->set_type(v1::Value::RANGES);
  auto* range = ports->mutable_ranges()->add_range();
  range->set_begin(31000);
  range->set_end(32000);
  auto* cpus = task.add_resources();
  cpus->set_name("cpus");
  cpus->set_type(v1::Value::SCALAR);
  cpus->mutable_scalar()->set_value(0.1);
  (*task.mutable_limits())["mem"].set_value(64);
  task.set_data(std::string("\x00\xffhi", 4));
  auto json = to_json(task);
  EXPECT_NE(json.find(R"("range":[{"begin":31000,"end":32000}])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("scalar":{"value":0.1})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("limits":{"mem":{"value":64}})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("data":"AP9oaQ==")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("type":"RANGES")"), std::string::npos) << json;
  v1::TaskInfo back;
  ASSERT_TRUE(decode(Format::Json, json, back));
  EXPECT_EQ(back.SerializeAsString(), task.SerializeAsString());
  v1::TaskStatus status;
  status.mutable_task_id()->set_value("t\"quoted\"\n");
  status.set_state(v1::TASK_RUNNING);
  EXPECT_EQ(to_json(status), R"({"task_id":{"value":"t\"quoted\"\n"},"state":"TASK_RUNNING"})");
}

TEST(Codec, BothEncodingsRoundTrip) {
  for (auto format : {Format::Json, Format::Protobuf}) {
    sched::Call decoded;
    ASSERT_TRUE(decode(format, encode(format, subscribe_call()), decoded));
    EXPECT_EQ(decoded.SerializeAsString(), subscribe_call().SerializeAsString());
  }
}

TEST(Codec, MalformedBodiesAreErrorsNamingTheType) {
  sched::Call call;
  auto bad_json = decode(Format::Json, R"({"type": "NOT_A_TYPE"})", call);
  ASSERT_FALSE(bad_json);
  EXPECT_NE(bad_json.error().what().find("Call"), std::string::npos) << bad_json.error().what();
  EXPECT_FALSE(decode(Format::Json, "{not json", call));
  EXPECT_FALSE(decode(Format::Json, R"({"no_such_field": 1})", call));
  EXPECT_FALSE(decode(Format::Protobuf, "\xff\xff\xff\xff", call));
  // A SUBSCRIBE missing the required framework_info.user is incomplete.
  auto incomplete = decode(Format::Json, R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}})", call);
  ASSERT_FALSE(incomplete);
  EXPECT_NE(incomplete.error().what().find("user"), std::string::npos) << incomplete.error().what();
}

}  // namespace
}  // namespace berth::codec
