// Copyright 2026 The Baton Authors.

#include "server/auth/grpc_credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace baton::auth {

Credentials CredentialsOf(const grpc::ServerContextBase& context) {
  Credentials credentials;
  const auto& metadata = context.client_metadata();
  const auto [first, last] = metadata.equal_range("authorization");
  if (first != last) {
    if (std::next(first) != last) {
      credentials.malformed = "authorization: sent more than once";
    } else {
      const std::string_view value(first->second.data(), first->second.size());
      constexpr std::string_view kBearer = "Bearer ";
      if (value.size() > kBearer.size() &&
          absl::EqualsIgnoreCase(absl::string_view(value.data(), kBearer.size()),
                                 absl::string_view(kBearer.data(), kBearer.size()))) {
        std::string_view token = value.substr(kBearer.size());
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
        if (token.empty()) {
          credentials.malformed = "authorization: the bearer token is empty";
        } else {
          credentials.token = std::string(token);
        }
      } else {
        credentials.malformed =
            "authorization: must be \"Bearer <token>\" (another scheme was sent)";
      }
    }
  }
  credentials.certificate_names = CertificateNamesOf(context);
  const auto [forwarded, forwarded_end] = metadata.equal_range(kForwardedSubjectsKey);
  if (forwarded != forwarded_end) {
    credentials.forwarded_names.emplace();
    for (auto it = forwarded; it != forwarded_end; ++it) {
      if (it->second.empty()) continue;
      credentials.forwarded_names->emplace_back(it->second.data(), it->second.size());
    }
  }
  return credentials;
}

std::vector<std::string> CertificateNamesOf(const grpc::ServerContextBase& context) {
  std::vector<std::string> names;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return names;
  for (const grpc::string_ref& subject :
       auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME)) {
    names.emplace_back(subject.data(), subject.size());
  }
  for (const grpc::string_ref& cn : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    names.push_back("CN=" + std::string(cn.data(), cn.size()));
  }
  for (const grpc::string_ref& san : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    names.emplace_back(san.data(), san.size());
  }
  return names;
}

}  // namespace baton::auth
