#pragma once
// Choosing an offer for the one task: does it fit, which resources the task takes
// from it, and - when none fits - how close the best one came.

#include <google/protobuf/repeated_field.h>

#include <optional>
#include <string>
#include <vector>

#include "mesos/v1/mesos.pb.h"

namespace berth::cli {

namespace v1 = berth::mesos::v1;

using OfferList = google::protobuf::RepeatedPtrField<v1::Offer>;
using ResourceList = google::protobuf::RepeatedPtrField<v1::Resource>;

// What the task asks for. disk_mb == 0 means disk is not asked for; ports
// are particular host ports (those of its port mappings).
struct Ask {
  double cpus = 0;
  double mem_mb = 0;
  double disk_mb = 0;
  std::vector<std::uint64_t> ports = {};
};

// "cpus:0.1;mem:32" (and ";disk:N" and ";ports:[8080,8081]" when asked).
std::string describe(const Ask& ask);
// The same names with what `resources` hold of them, e.g. "cpus:0.05;mem:16".
std::string describe_offered(const ResourceList& resources, const Ask& ask);

// The sum of the SCALAR resources called `name`, whatever their role.
double scalar_total(const ResourceList& resources, std::string_view name);

bool fits(const v1::Offer& offer, const Ask& ask);
// Index of the first offer the task fits in.
std::optional<int> first_fit(const OfferList& offers, const Ask& ask);

// The resources the task takes from `offer`, carved from its resources in order so
// each piece keeps the role it was offered under. Precondition: fits(offer, ask).
std::vector<v1::Resource> take_resources(const v1::Offer& offer, const Ask& ask);

// How much of the ask an offer covers, from 0 (nothing) to 1 (all of it): the mean
// over the asked resources of min(1, offered / asked).
double coverage(const v1::Offer& offer, const Ask& ask);

// Remembers the closest offer seen, for the message when none fitted in time.
class BestOffer {
 public:
  void consider(const v1::Offer& offer, const Ask& ask);
  // "no offer satisfied cpus:4;mem:32 within 30 s; the best offer (agent a1 on host1) had cpus:2;mem:1024"
  std::string timeout_message(const Ask& ask, double timeout_s) const;

 private:
  std::optional<v1::Offer> best_;
  double best_coverage_ = -1;
  int seen_ = 0;
};

}  // namespace berth::cli
