#include "berth/common/leader_watch.hpp"

#include <gtest/gtest.h>

#include "berth/common/codec.hpp"

namespace berth {
namespace {

namespace v1 = mesos::v1;

TEST(ZooKeeperUrl, ParsesAndRefusesWhatIsNotOne) {
  auto url = parse_zookeeper_url("zk://zk1:2181,zk2:2181/mesos/");
  ASSERT_TRUE(url) << url.error().what();
  EXPECT_EQ(url->servers, "zk1:2181,zk2:2181");
  EXPECT_EQ(url->path, "/mesos");
  EXPECT_TRUE(is_zookeeper_url("zk://zk1:2181/mesos"));
  EXPECT_FALSE(is_zookeeper_url("127.0.0.1:5050"));
  EXPECT_FALSE(parse_zookeeper_url("http://zk1:2181/mesos"));
  EXPECT_FALSE(parse_zookeeper_url("zk://zk1:2181"));
  EXPECT_FALSE(parse_zookeeper_url("zk://zk1:2181/"));
  EXPECT_FALSE(parse_zookeeper_url("zk://user:pass@zk1:2181/mesos"));
}

// A MasterInfo as Mesos writes it into json.info_ nodes, with its domain and
// capabilities and a field no version of the protos has, and the older
// protobuf info_ nodes.
TEST(MasterInfoNode, JsonAndProtobufNodesParseAndNameAnEndpoint) {
  auto json = R"({"id":"m1","ip":16777343,"port":5050,"hostname":"master-1","pid":"master@127.0.0.1:5050",
                  "address":{"hostname":"master-1","ip":"10.0.0.5","port":5050},
                  "domain":{"fault_domain":{"region":{"name":"eu"},"zone":{"name":"eu-1"}}},
                  "capabilities":[{"type":"AGENT_UPDATE"}],"from_a_future_mesos":true})";
  auto info = parse_master_info("json.info_0000000003", json);
  ASSERT_TRUE(info) << info.error().what();
  EXPECT_EQ(info->id(), "m1");
  EXPECT_EQ(master_endpoint(*info), "10.0.0.5:5050");
  info->clear_address();
  EXPECT_EQ(master_endpoint(*info), "127.0.0.1:5050") << "the packed IPv4 of older MasterInfos";
  auto proto = parse_master_info("info_0000000004", info->SerializeAsString());
  ASSERT_TRUE(proto) << proto.error().what();
  EXPECT_EQ(proto->id(), "m1");
  EXPECT_FALSE(parse_master_info("json.info_0000000005", "{not json"));
  EXPECT_FALSE(parse_master_info("json.info_0000000006", R"({"port":5050})")) << "id and ip are required";
}

}  // namespace
}  // namespace berth
