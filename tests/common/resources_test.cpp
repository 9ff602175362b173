#include "berth/common/resources.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace berth {
namespace {

namespace v1 = mesos::v1;
using Ranges = std::vector<Resources::Range>;
using ::testing::HasSubstr;

Resources parsed(std::string_view text) {
  auto result = Resources::parse(text);
  EXPECT_TRUE(result.has_value()) << text << ": " << result.error().what();
  return result.value_or(Resources{});
}

std::string parse_error(std::string_view text) {
  auto result = Resources::parse(text);
  EXPECT_FALSE(result.has_value()) << text << " parsed as " << result->to_string();
  return result ? std::string{} : result.error().what();
}

std::string json_error(std::string_view json) {
  auto result = Resources::parse_json(json);
  EXPECT_FALSE(result.has_value()) << json << " parsed as " << result->to_string();
  return result ? std::string{} : result.error().what();
}

v1::Resource scalar_proto(const std::string& name, double value) {
  v1::Resource resource;
  resource.set_name(name);
  resource.set_type(v1::Value::SCALAR);
  resource.mutable_scalar()->set_value(value);
  return resource;
}

v1::Resource ranges_proto(const std::string& name, std::uint64_t begin, std::uint64_t end) {
  v1::Resource resource;
  resource.set_name(name);
  resource.set_type(v1::Value::RANGES);
  auto* range = resource.mutable_ranges()->add_range();
  range->set_begin(begin);
  range->set_end(end);
  return resource;
}

// `role` is deprecated in Mesos; reflection reaches it without the warning.
const google::protobuf::FieldDescriptor* role_field() { return v1::Resource::descriptor()->FindFieldByName("role"); }

std::string from_proto_error(const Resources::Protos& protos) {
  auto result = Resources::from_proto(protos);
  EXPECT_FALSE(result.has_value()) << "accepted as " << result->to_string();
  return result ? std::string{} : result.error().what();
}

TEST(ResourcesParse, ReadsEveryKind) {
  auto r = parsed("cpus:2;mem:1024;disk:4096;gpus:1;ports:[31000-32000,40000-40010];zones:{a,b}");
  EXPECT_EQ(r.cpus(), 2);
  EXPECT_EQ(r.mem_mb(), 1024);
  EXPECT_EQ(r.disk_mb(), 4096);
  EXPECT_EQ(r.scalar("gpus"), 1.0);
  EXPECT_EQ(r.ranges("ports"), (Ranges{{31000, 32000}, {40000, 40010}}));
  EXPECT_EQ(r.set("zones"), (std::set<std::string>{"a", "b"}));
  EXPECT_FALSE(r.scalar("ports").has_value());
  EXPECT_FALSE(r.scalar("absent").has_value());
  EXPECT_TRUE(r.ranges("absent").empty());
}

TEST(ResourcesParse, ToleratesSpacesTrailingSeparatorAndDefaultRole) {
  auto r = parsed(" cpus(*) : 1.5 ; mem:512; ports:[ 1-2 , 10-20 ];zones:{ x , y };");
  EXPECT_EQ(r, parsed("cpus:1.5;mem:512;ports:[1-2,10-20];zones:{x,y}"));
}

TEST(ResourcesParse, EmptyTextAndZeroValuesAreEmpty) {
  EXPECT_TRUE(parsed("").empty());
  EXPECT_TRUE(parsed("cpus:0;ports:[];zones:{}").empty());
  EXPECT_EQ(parsed("cpus:0;mem:1"), parsed("mem:1"));
}

TEST(ResourcesParse, CoalescesOverlappingAndAdjacentRanges) {
  EXPECT_EQ(parsed("ports:[8-9,1-5,3-7]").ranges("ports"), (Ranges{{1, 9}}));
  EXPECT_EQ(parsed("ports:[1-1,3-3]").ranges("ports"), (Ranges{{1, 1}, {3, 3}}));
  EXPECT_EQ(parsed("ports:[0-18446744073709551615,5-6]").ranges("ports"), (Ranges{{0, UINT64_MAX}}));
}

TEST(ResourcesParse, RoundsScalarsToThousandths) {
  EXPECT_EQ(parsed("cpus:0.1236").cpus(), 0.124);
  EXPECT_EQ(parsed("mem:1e3").mem_mb(), 1000);
  EXPECT_TRUE(parsed("cpus:0.0004").empty());
}

TEST(ResourcesParse, ErrorsNameTheOffendingPart) {
  EXPECT_THAT(parse_error("cpus:1;bogus"), HasSubstr("'bogus' is not of the form name:value"));
  EXPECT_THAT(parse_error(":2"), HasSubstr("':2' has an empty name"));
  EXPECT_THAT(parse_error("(*):2"), HasSubstr("empty name"));
  EXPECT_THAT(parse_error("cpus:"), HasSubstr("'cpus' has an empty value"));
  EXPECT_THAT(parse_error("cpus:abc"), HasSubstr("'cpus': 'abc' is not a number, range list or set"));
  EXPECT_THAT(parse_error("cpus:2x"), HasSubstr("'2x' is not a number"));
  EXPECT_THAT(parse_error("my cpus:1"), HasSubstr("'my cpus' is not valid"));
  EXPECT_THAT(parse_error("cpus(web):1"), HasSubstr("only the default role '*'"));
}

TEST(ResourcesParse, RefusesNegativeAndNonFiniteScalars) {
  EXPECT_THAT(parse_error("mem:-1"), HasSubstr("'mem': scalar must be a finite, non-negative number, not -1"));
  EXPECT_THAT(parse_error("cpus:nan"), HasSubstr("not nan"));
  EXPECT_THAT(parse_error("cpus:inf"), HasSubstr("not inf"));
  EXPECT_THAT(parse_error("cpus:-inf"), HasSubstr("not -inf"));
  EXPECT_THAT(parse_error("disk:1e13"), HasSubstr("'disk': scalar 10000000000000 is too large"));
}

TEST(ResourcesParse, RefusesBadRangesAndSets) {
  EXPECT_THAT(parse_error("ports:[5-1]"), HasSubstr("'ports': range 5-1 begins after it ends"));
  EXPECT_THAT(parse_error("ports:[1-2"), HasSubstr("'ports': unterminated range list '[1-2'"));
  EXPECT_THAT(parse_error("ports:[1-2;mem:1"), HasSubstr("unterminated range list"));
  EXPECT_THAT(parse_error("ports:[a-2]"), HasSubstr("'ports': 'a' is not a range bound"));
  EXPECT_THAT(parse_error("ports:[-2]"), HasSubstr("'' is not a range bound"));
  EXPECT_THAT(parse_error("ports:[1-2-3]"), HasSubstr("'2-3' is not a range bound"));
  EXPECT_THAT(parse_error("ports:[12]"), HasSubstr("range '12' is not begin-end"));
  EXPECT_THAT(parse_error("ports:[1-18446744073709551616]"), HasSubstr("not a range bound"));
  EXPECT_THAT(parse_error("zones:{a,b"), HasSubstr("'zones': unterminated set '{a,b'"));
  EXPECT_THAT(parse_error("zones:{a,{b}}"), HasSubstr("set item '{b}' is not valid"));
}

TEST(ResourcesParse, RefusesDuplicateNames) {
  EXPECT_THAT(parse_error("cpus:1;mem:2;cpus:3"), HasSubstr("'cpus' is given twice"));
  EXPECT_THAT(parse_error("cpus:1;cpus(*):3"), HasSubstr("'cpus' is given twice"));
  EXPECT_THAT(parse_error("cpus:0;cpus:1"), HasSubstr("given twice"));
  EXPECT_THAT(parse_error("ports:[1-2];ports:{a}"), HasSubstr("'ports' is given twice"));
}

TEST(ResourcesJson, ReadsMesosArrayForm) {
  auto r = Resources::parse_json(R"([
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}},
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024.5}, "role": "*"},
    {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
    {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}}
  ])");
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(*r, parsed("cpus:2;mem:1024.5;ports:[31000-32000];zones:{a,b}"));
}

TEST(ResourcesJson, AddsRepeatedNamesLikeMesos) {
  auto r = Resources::parse_json(R"([
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}
  ])");
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->cpus(), 1.5);
}

TEST(ResourcesJson, RefusesMalformedInput) {
  EXPECT_THAT(json_error("[{"), HasSubstr("resources JSON"));
  EXPECT_THAT(json_error(R"({"name": "cpus"})"), HasSubstr("must be an array"));
  EXPECT_THAT(json_error(R"([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "colour": 1}])"),
              HasSubstr("colour"));
  EXPECT_THAT(json_error(R"([{"name": "cpus", "type": "SCALAR"}])"),
              HasSubstr("'cpus' of type SCALAR must carry exactly one value"));
  EXPECT_THAT(json_error(R"([{"name": "cpus", "type": "SCALAR", "scalar": {"value": -2}}])"),
              HasSubstr("non-negative"));
  EXPECT_THAT(json_error(R"([{"name": "cpus", "type": "SCALAR", "scalar": {"value": "NaN"}}])"), HasSubstr("nan"));
  EXPECT_THAT(json_error(R"([{"name": "", "type": "SCALAR", "scalar": {"value": 1}}])"), HasSubstr("empty name"));
  EXPECT_THAT(json_error(R"([{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 9, "end": 3}]}}])"),
              HasSubstr("'ports': range 9-3 begins after it ends"));
}

TEST(ResourcesProto, RoundTripsSortedByName) {
  auto r = parsed("zones:{b,a};mem:32;cpus:0.1;ports:[31000-31005,31007-32000]");
  auto protos = r.to_proto();
  ASSERT_EQ(protos.size(), 4);
  EXPECT_EQ(protos[0].name(), "cpus");
  EXPECT_EQ(protos[0].type(), v1::Value::SCALAR);
  EXPECT_EQ(protos[0].scalar().value(), 0.1);
  EXPECT_EQ(protos[1].name(), "mem");
  EXPECT_EQ(protos[2].name(), "ports");
  EXPECT_EQ(protos[2].type(), v1::Value::RANGES);
  ASSERT_EQ(protos[2].ranges().range_size(), 2);
  EXPECT_EQ(protos[2].ranges().range(1).begin(), 31007u);
  EXPECT_EQ(protos[3].type(), v1::Value::SET);
  EXPECT_EQ(protos[3].set().item(0), "a");
  EXPECT_FALSE(protos[0].GetReflection()->HasField(protos[0], role_field()));
  auto back = Resources::from_proto(protos);
  ASSERT_TRUE(back.has_value()) << back.error().what();
  EXPECT_EQ(*back, r);
}

TEST(ResourcesProto, ValidatesEachResource) {
  Resources::Protos clash;
  *clash.Add() = scalar_proto("ports", 1);
  *clash.Add() = ranges_proto("ports", 1, 2);
  EXPECT_THAT(from_proto_error(clash), HasSubstr("'ports' is given as both SCALAR and RANGES"));

  Resources::Protos mixed;
  auto* both = mixed.Add();
  *both = scalar_proto("cpus", 1);
  both->mutable_set()->add_item("x");
  EXPECT_THAT(from_proto_error(mixed), HasSubstr("'cpus' of type SCALAR must carry exactly one value"));

  Resources::Protos text;
  auto* t = text.Add();
  t->set_name("os");
  t->set_type(v1::Value::TEXT);
  EXPECT_THAT(from_proto_error(text), HasSubstr("'os' has unsupported type TEXT"));

  Resources::Protos inverted;
  *inverted.Add() = ranges_proto("ports", 10, 9);
  EXPECT_THAT(from_proto_error(inverted), HasSubstr("range 10-9 begins after it ends"));

  Resources::Protos huge;
  *huge.Add() = scalar_proto("mem", 1e300);
  EXPECT_THAT(from_proto_error(huge), HasSubstr("too large"));
}

TEST(ResourcesProto, IgnoresRole) {
  Resources::Protos protos;
  auto* reserved = protos.Add();
  *reserved = scalar_proto("cpus", 1);
  reserved->GetReflection()->SetString(reserved, role_field(), "web");
  *protos.Add() = scalar_proto("cpus", 2);
  auto r = Resources::from_proto(protos);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->cpus(), 3);
}

TEST(ResourcesText, PrintsCompactSortedText) {
  auto r = parsed("zones:{b,a};mem:32;disk:1024.5;cpus:0.1;ports:[40000-40010,31000-32000]");
  EXPECT_EQ(r.to_string(), "cpus:0.1;disk:1024.5;mem:32;ports:[31000-32000,40000-40010];zones:{a,b}");
  EXPECT_EQ(parsed("mem:1000000").to_string(), "mem:1000000");
  EXPECT_EQ(Resources{}.to_string(), "");
}

TEST(ResourcesText, RoundTripsThroughParse) {
  for (auto text : {"cpus:0.001;mem:123456789.125", "ports:[0-0,2-18446744073709551615]", "zones:{a,b,c};gpus:4"}) {
    auto r = parsed(text);
    EXPECT_EQ(parsed(r.to_string()), r) << text;
  }
}

TEST(ResourcesContains, ComparesEveryKind) {
  auto have = parsed("cpus:2;mem:1024;ports:[31000-32000];zones:{a,b}");
  EXPECT_TRUE(have.contains(Resources{}));
  EXPECT_TRUE(have.contains(have));
  EXPECT_TRUE(have.contains(parsed("cpus:2;mem:1")));
  EXPECT_TRUE(have.contains(parsed("ports:[31000-31000,31500-32000]")));
  EXPECT_TRUE(have.contains(parsed("zones:{b}")));
  EXPECT_FALSE(have.contains(parsed("cpus:2.001")));
  EXPECT_FALSE(have.contains(parsed("gpus:1")));
  EXPECT_FALSE(have.contains(parsed("ports:[30999-31000]")));
  EXPECT_FALSE(have.contains(parsed("ports:[32000-32001]")));
  EXPECT_FALSE(have.contains(parsed("zones:{c}")));
  EXPECT_FALSE(have.contains(parsed("cpus:[1-2]")));
  EXPECT_FALSE(Resources{}.contains(have));
}

TEST(ResourcesContains, RangeSpanningCoalescedPieces) {
  auto have = parsed("ports:[1-5]") + parsed("ports:[6-10]");
  EXPECT_TRUE(have.contains(parsed("ports:[4-7]")));
}

TEST(ResourcesArithmetic, AddMergesAndCoalesces) {
  auto sum = parsed("cpus:1;ports:[1-2];zones:{a}") + parsed("cpus:0.5;mem:64;ports:[3-4];zones:{b}");
  EXPECT_EQ(sum, parsed("cpus:1.5;mem:64;ports:[1-4];zones:{a,b}"));
  EXPECT_EQ(sum.ranges("ports"), (Ranges{{1, 4}}));
  EXPECT_EQ((parsed("ports:[10-20]") + parsed("ports:[1-5]")).ranges("ports"), (Ranges{{1, 5}, {10, 20}}));
}

TEST(ResourcesArithmetic, AddKeepsTheFirstTypeOnClash) {
  auto r = parsed("ports:[1-2]");
  r += parsed("ports:5");
  EXPECT_EQ(r, parsed("ports:[1-2]"));
}

TEST(ResourcesArithmetic, SubtractSplitsRanges) {
  auto left = parsed("ports:[31000-32000]") - parsed("ports:[31005-31005]");
  EXPECT_EQ(left.ranges("ports"), (Ranges{{31000, 31004}, {31006, 32000}}));
  auto edges = parsed("ports:[1-10,20-30]") - parsed("ports:[1-1,10-20,30-30]");
  EXPECT_EQ(edges.ranges("ports"), (Ranges{{2, 9}, {21, 29}}));
  auto top = parsed("ports:[0-18446744073709551615]") - parsed("ports:[18446744073709551615-18446744073709551615]");
  EXPECT_EQ(top.ranges("ports"), (Ranges{{0, UINT64_MAX - 1}}));
}

TEST(ResourcesArithmetic, SubtractRemovesWhatIsUsedUp) {
  auto all = parsed("cpus:2;mem:1024;ports:[1-9];zones:{a,b}");
  EXPECT_TRUE((all - all).empty());
  auto left = all - parsed("cpus:2;ports:[1-9];zones:{a}");
  EXPECT_EQ(left, parsed("mem:1024;zones:{b}"));
  EXPECT_FALSE(left.scalar("cpus").has_value());
  EXPECT_EQ(left.cpus(), 0);
}

TEST(ResourcesArithmetic, SubtractBeyondHeldStopsAtZero) {
  auto r = parsed("cpus:1;ports:[1-5]") - parsed("cpus:3;gpus:1;ports:[4-8];zones:{x}");
  EXPECT_EQ(r, parsed("ports:[1-3]"));
  EXPECT_EQ(r - parsed("ports:{a}"), r);
}

TEST(ResourcesArithmetic, FixedPointNeverDrifts) {
  EXPECT_EQ((parsed("cpus:0.1") + parsed("cpus:0.2")).cpus(), 0.3);
  EXPECT_EQ(parsed("cpus:0.1") + parsed("cpus:0.2"), parsed("cpus:0.3"));

  auto base = parsed("cpus:4;mem:1024");
  auto step = parsed("cpus:0.1;mem:0.1");
  auto r = base;
  for (int i = 0; i < 10'000; ++i) {
    r += step;
    r -= step;
  }
  EXPECT_EQ(r, base);

  Resources total;
  for (int i = 0; i < 10'000; ++i) total += step;
  EXPECT_EQ(total.cpus(), 1000);
  EXPECT_EQ(total.to_string(), "cpus:1000;mem:1000");
  for (int i = 0; i < 10'000; ++i) total -= step;
  EXPECT_TRUE(total.empty());
}

TEST(ResourcesEquality, IgnoresOrderAndSpelling) {
  EXPECT_EQ(parsed("mem:1;cpus:2"), parsed("cpus:2;mem:1"));
  EXPECT_EQ(parsed("ports:[1-2,3-4]"), parsed("ports:[1-4]"));
  EXPECT_EQ(parsed("zones:{b,a,a}"), parsed("zones:{a,b}"));
  EXPECT_EQ(parsed("cpus:1.0004"), parsed("cpus:1"));
  EXPECT_NE(parsed("cpus:1"), parsed("cpus:1.001"));
  EXPECT_NE(parsed("ports:[1-4]"), parsed("ports:[1-3]"));
  EXPECT_NE(parsed("zones:{a}"), parsed("zones:{a,b}"));
  EXPECT_NE(parsed("cpus:1"), parsed("gpus:1"));
}

}  // namespace
}  // namespace berth
