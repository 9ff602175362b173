#pragma once
// A container's cgroup statistics as the agent serves them: a JSON object for
// /containers, with Mesos's ResourceStatistics names (the /monitor/statistics
// of a Mesos agent) where Mesos has one, and Prometheus families for /metrics
// in base units (seconds, bytes) with a `_total` suffix on counters.

#include <boost/json/object.hpp>

#include <string>

#include "berth/common/metrics.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "berth/isolators/cgroups2/statistics.hpp"
#include "berth/isolators/isolator.hpp"

namespace berth::agent {

boost::json::object statistics_json(const isolators::cgroups2::Statistics& stats,
                                    const isolators::cgroups2::Limits& limits, double timestamp);

// Declares every berth_container_* family (type and help) in `registry`.
void describe_container_metrics(metrics::Registry& registry);

// Sets one container's samples; `labels` identify it (container_id, framework_id, task_id).
void add_container_metrics(metrics::Registry& registry, const metrics::Labels& labels,
                           const isolators::cgroups2::Statistics& stats);

// A container's network counters (a network of its own only), under
// Mesos's names (net_rx_bytes, ...) and as berth_container_network_* series.
void add_network_json(boost::json::object& statistics, const isolators::Usage& usage);
void add_network_metrics(metrics::Registry& registry, const metrics::Labels& labels, const isolators::Usage& usage);

}  // namespace berth::agent
