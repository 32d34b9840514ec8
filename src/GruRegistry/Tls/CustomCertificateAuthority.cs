using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace GruRegistry.Tls;

/// <summary>Server certificate validation that also trusts a private CA (a registry or Prometheus behind an internal PKI).</summary>
public static class CustomCertificateAuthority
{
    /// <summary>A handler that trusts the system roots plus the CA certificates of the PEM file <paramref name="pemFile"/>.</summary>
    public static SocketsHttpHandler Handler(string? pemFile)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (pemFile is { Length: > 0 })
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(pemFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                IsTrusted(certificate as X509Certificate2, errors, authorities);
        }

        return handler;
    }

    /// <summary>Accepts a server certificate that chains to one of <paramref name="authorities"/>; a wrong host name still fails.</summary>
    public static bool IsTrusted(X509Certificate2? certificate, SslPolicyErrors errors, X509Certificate2Collection authorities)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
