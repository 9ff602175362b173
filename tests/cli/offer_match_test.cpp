#include "offer_match.hpp"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

void add_scalar(v1::Offer& offer, const std::string& name, double value) {
  auto* resource = offer.add_resources();
  resource->set_name(name);
  resource->set_type(v1::Value::SCALAR);
  resource->mutable_scalar()->set_value(value);
}

v1::Offer offer_of(const std::string& id, double cpus, double mem, double disk = 0) {
  v1::Offer offer;
  offer.mutable_id()->set_value(id);
  offer.mutable_framework_id()->set_value("f1");
  offer.mutable_agent_id()->set_value("agent-" + id);
  offer.set_hostname("host-" + id);
  add_scalar(offer, "cpus", cpus);
  add_scalar(offer, "mem", mem);
  if (disk > 0) add_scalar(offer, "disk", disk);
  return offer;
}

const Ask kSmall{.cpus = 0.1, .mem_mb = 32, .disk_mb = 0};

TEST(OfferMatch, DescribesTheAskAndTheOffer) {
  EXPECT_EQ(describe(kSmall), "cpus:0.1;mem:32");
  EXPECT_EQ(describe(Ask{.cpus = 2, .mem_mb = 1024, .disk_mb = 100}), "cpus:2;mem:1024;disk:100");
  auto offer = offer_of("o1", 0.05, 16, 500);
  EXPECT_EQ(describe_offered(offer.resources(), kSmall), "cpus:0.05;mem:16");
  EXPECT_EQ(describe_offered(offer.resources(), Ask{.cpus = 1, .mem_mb = 1, .disk_mb = 1}),
            "cpus:0.05;mem:16;disk:500");
}

TEST(OfferMatch, SumsScalarsOfTheSameNameAcrossPieces) {
  auto offer = offer_of("o1", 0.1, 16);
  add_scalar(offer, "cpus", 0.2);
  auto* ports = offer.add_resources();
  ports->set_name("cpus");
  ports->set_type(v1::Value::RANGES);
  EXPECT_DOUBLE_EQ(scalar_total(offer.resources(), "cpus"), 0.1 + 0.2);
  EXPECT_DOUBLE_EQ(scalar_total(offer.resources(), "gpus"), 0);
  // 0.1 + 0.2 != 0.3 in binary, yet the offer holds 0.3 CPUs.
  EXPECT_TRUE(fits(offer, Ask{.cpus = 0.3, .mem_mb = 16, .disk_mb = 0}));
  EXPECT_FALSE(fits(offer, Ask{.cpus = 0.31, .mem_mb = 16, .disk_mb = 0}));
}

TEST(OfferMatch, FirstFitSkipsOffersShortOfAnyResource) {
  OfferList offers;
  *offers.Add() = offer_of("small-cpu", 0.05, 1024);
  *offers.Add() = offer_of("small-mem", 4, 16);
  *offers.Add() = offer_of("no-disk", 4, 1024);
  *offers.Add() = offer_of("fits", 4, 1024, 200);
  EXPECT_EQ(first_fit(offers, kSmall), 2);
  EXPECT_EQ(first_fit(offers, Ask{.cpus = 1, .mem_mb = 64, .disk_mb = 100}), 3);
  EXPECT_EQ(first_fit(offers, Ask{.cpus = 8, .mem_mb = 64, .disk_mb = 0}), std::nullopt);
  EXPECT_EQ(first_fit(OfferList{}, kSmall), std::nullopt);
}

TEST(OfferMatch, TakesExactlyTheAskCarvedFromOfferedPieces) {
  auto offer = offer_of("o1", 0.25, 20, 50);
  add_scalar(offer, "mem", 100);
  auto taken = take_resources(offer, Ask{.cpus = 0.1, .mem_mb = 32, .disk_mb = 0});
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0].name(), "cpus");
  EXPECT_DOUBLE_EQ(taken[0].scalar().value(), 0.1);
  EXPECT_EQ(taken[1].name(), "mem");
  EXPECT_DOUBLE_EQ(taken[1].scalar().value(), 20);
  EXPECT_EQ(taken[2].name(), "mem");
  EXPECT_DOUBLE_EQ(taken[2].scalar().value(), 12);
  for (const auto& resource : taken) EXPECT_EQ(resource.type(), v1::Value::SCALAR);
}

TEST(OfferMatch, CoverageRanksHowCloseAnOfferCame) {
  EXPECT_DOUBLE_EQ(coverage(offer_of("a", 1, 64), kSmall), 1.0);
  EXPECT_DOUBLE_EQ(coverage(offer_of("b", 0.05, 64), kSmall), 0.75);
  EXPECT_DOUBLE_EQ(coverage(offer_of("c", 0, 0), kSmall), 0.0);
}

TEST(OfferMatch, TimeoutMessageNamesTheAskAndTheBestOffer) {
  BestOffer best;
  Ask big{.cpus = 4, .mem_mb = 32, .disk_mb = 0};
  EXPECT_EQ(best.timeout_message(big, 30),
            "no offer satisfied cpus:4;mem:32 within 30 s; no offers were received (are any agents registered?)");
  best.consider(offer_of("o1", 1, 16), big);
  best.consider(offer_of("o2", 2, 1024), big);
  best.consider(offer_of("o3", 0.5, 4096), big);
  EXPECT_EQ(best.timeout_message(big, 2.5),
            "no offer satisfied cpus:4;mem:32 within 2.5 s; the best of 3 offer(s) (agent agent-o2 on host-o2) "
            "had cpus:2;mem:1024");
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

void add_ports(v1::Offer& offer, std::uint64_t begin, std::uint64_t end, const std::string& role = "*") {
  auto* resource = offer.add_resources();
  resource->set_name("ports");
  resource->set_type(v1::Value::RANGES);
  auto* range = resource->mutable_ranges()->add_range();
  range->set_begin(begin);
  range->set_end(end);
  if (role != "*") resource->add_reservations()->set_role(role);
}

TEST(OfferMatch, AskedHostPortsMustBeOfferedAndAreTakenOneByOne) {
  Ask ask{.cpus = 0.1, .mem_mb = 32, .disk_mb = 0, .ports = {31001, 31005}};
  EXPECT_EQ(describe(ask), "cpus:0.1;mem:32;ports:[31001,31005]");
  auto offer = offer_of("o1", 1, 64);
  add_ports(offer, 31000, 31002);
  EXPECT_FALSE(fits(offer, ask)) << "31005 is not offered";
  EXPECT_EQ(describe_offered(offer.resources(), ask), "cpus:1;mem:64;ports:[31001]");
  EXPECT_DOUBLE_EQ(coverage(offer, ask), (1 + 1 + 0.5) / 3);
  add_ports(offer, 31005, 31009, "eng");
  ASSERT_TRUE(fits(offer, ask));
  auto taken = take_resources(offer, ask);
  ASSERT_EQ(taken.size(), 4u);
  EXPECT_EQ(taken[2].name(), "ports");
  EXPECT_EQ(taken[2].ranges().range(0).begin(), 31001u);
  EXPECT_EQ(taken[2].ranges().range(0).end(), 31001u);
  EXPECT_EQ(taken[3].ranges().range(0).begin(), 31005u);
  EXPECT_EQ(taken[3].reservations(0).role(), "eng") << "a port keeps the role it was offered under";
}

}  // namespace
}  // namespace berth::cli
