#include "berth/common/codec.hpp"

#include <gtest/gtest.h>

#include "mesos/v1/scheduler.pb.h"

namespace berth::codec {
namespace {

namespace sched = berth::mesos::v1::scheduler;

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
