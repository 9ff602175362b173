#include "berth/isolators/network/ipam.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include "berth/common/fd.hpp"
#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"

namespace berth::isolators::network {
namespace fs = std::filesystem;

std::string_view to_string(Protocol protocol) { return protocol == Protocol::udp ? "udp" : "tcp"; }

namespace {

std::string format(const Lease& lease) {
  std::string text = "container " + lease.container_id + "\ninterface " + lease.host_interface + "\n";
  for (const auto& port : lease.ports) {
    text += "port " + std::string(to_string(port.protocol)) + " " + std::to_string(port.host_port) + " " +
            std::to_string(port.container_port) + "\n";
  }
  return text;
}

std::optional<std::uint16_t> port_number(const std::string& text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

Result<Lease> parse(const std::string& name, const std::string& text) {
  Lease lease;
  BERTH_TRY(lease.address, Ipv4Address::parse(name));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "container") {
      words >> lease.container_id;
    } else if (key == "interface") {
      words >> lease.host_interface;
    } else if (key == "port") {
      std::string protocol, host, container;
      words >> protocol >> host >> container;
      auto host_port = port_number(host);
      auto container_port = port_number(container);
      if ((protocol != "tcp" && protocol != "udp") || !host_port || !container_port) {
        return fail("bad port line '" + line + "'");
      }
      lease.ports.push_back({*host_port, *container_port, protocol == "udp" ? Protocol::udp : Protocol::tcp});
    } else if (!key.empty()) {
      return fail("unknown line '" + line + "'");
    }
  }
  if (!ids::is_safe_path_component(lease.container_id)) return fail("no valid container id");
  if (lease.host_interface.empty()) return fail("no interface");
  return lease;
}

}  // namespace

Result<std::unique_ptr<Ipam>> Ipam::open(fs::path dir, Ipv4Cidr subnet) {
  if (subnet.prefix > 30) {
    return fail("subnet " + subnet.str() + " is too small: it needs room for the bridge and a container (/30 at most)");
  }
  BERTH_TRY_VOID(files::make_dirs(dir));
  std::unique_ptr<Ipam> ipam(new Ipam(std::move(dir), subnet));
  ipam->cursor_ = ipam->gateway() + 1;
  BERTH_TRY_VOID(ipam->load());
  return ipam;
}

Result<void> Ipam::load() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto name = entry.path().filename().string();
    auto drop = [&](const std::string& why) {
      log::warn("Network lease {}: {}; removing it", entry.path().string(), why);
      fs::remove(entry.path(), ec);
    };
    if (name.starts_with(".tmp-")) {  // an allocation cut short
      fs::remove(entry.path(), ec);
      continue;
    }
    auto text = files::read(entry.path());
    if (!text) {
      drop(text.error().what());
      continue;
    }
    auto lease = parse(name, *text);
    if (!lease) {
      drop(lease.error().what());
      continue;
    }
    if (!subnet_.contains(lease->address) || lease->address <= gateway() || lease->address >= subnet_.broadcast()) {
      drop("the address is not one of subnet " + subnet_.str() + "'s container addresses");
      continue;
    }
    if (by_container_.contains(lease->container_id)) {
      drop("container " + lease->container_id + " has another lease");
      continue;
    }
    by_address_[lease->address] = lease->container_id;
    by_container_[lease->container_id] = std::move(*lease);
  }
  if (ec) return fail(Error("reading leases", ec.value(), dir_.string()));
  return {};
}

Result<Lease> Ipam::allocate(const std::string& container_id, const std::string& host_interface,
                             const std::vector<PortMapping>& ports) {
  if (by_container_.contains(container_id)) return fail("container " + container_id + " already has an address");
  for (std::size_t i = 0; i < ports.size(); ++i) {
    auto clash = [&](const PortMapping& other) {
      return other.host_port == ports[i].host_port && other.protocol == ports[i].protocol;
    };
    auto name = std::string(to_string(ports[i].protocol)) + " port " + std::to_string(ports[i].host_port);
    if (std::any_of(ports.begin(), ports.begin() + static_cast<std::ptrdiff_t>(i), clash)) {
      return fail("host " + name + " is mapped twice");
    }
    for (const auto& [id, lease] : by_container_) {
      if (std::ranges::any_of(lease.ports, clash)) return fail("host " + name + " is already mapped to container " + id);
    }
  }
  const std::uint64_t usable = subnet_.size() - 3;  // less network, bridge, broadcast
  auto first = gateway() + 1;
  for (std::uint64_t tried = 0; tried < usable; ++tried) {
    auto address = cursor_;
    cursor_ = cursor_ + 1 >= subnet_.broadcast() ? first : cursor_ + 1;
    if (by_address_.contains(address)) continue;
    Lease lease{container_id, address, host_interface, ports};
    auto final_path = dir_ / address.str();
    auto temp = dir_ / (".tmp-" + container_id);
    BERTH_TRY_VOID(files::write_atomic(temp, format(lease)));
    int linked = ::link(temp.c_str(), final_path.c_str());
    int err = errno;
    ::unlink(temp.c_str());
    if (linked != 0) {
      if (err == EEXIST) continue;  // a file this map did not know: leave it
      return fail(Error::sys("link", err, final_path.string()));
    }
    BERTH_TRY_VOID(files::fsync_dir(dir_));
    by_address_[address] = container_id;
    by_container_[container_id] = lease;
    return lease;
  }
  return fail("subnet " + subnet_.str() + " has no free address (" + std::to_string(by_container_.size()) +
              " leased)");
}

Result<void> Ipam::release(const std::string& container_id) {
  auto it = by_container_.find(container_id);
  if (it == by_container_.end()) return {};
  auto path = dir_ / it->second.address.str();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_sys("unlink", path.string());
  by_address_.erase(it->second.address);
  by_container_.erase(it);
  return files::fsync_dir(dir_);
}

const Lease* Ipam::find(const std::string& container_id) const {
  auto it = by_container_.find(container_id);
  return it == by_container_.end() ? nullptr : &it->second;
}

std::vector<Lease> Ipam::leases() const {
  std::vector<Lease> out;
  for (const auto& [id, lease] : by_container_) out.push_back(lease);
  return out;
}

}  // namespace berth::isolators::network
