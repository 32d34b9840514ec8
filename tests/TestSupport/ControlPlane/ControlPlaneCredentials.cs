using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TestSupport.ControlPlane;

/// <summary>
/// The files a fresh control plane needs, made in C# at start (no openssl): a CA, the API server's serving certificate
/// for 127.0.0.1/localhost/kubernetes.default.svc, the ServiceAccount token signing key pair, and a static token file
/// with one admin token in system:masters.
/// </summary>
public sealed class ControlPlaneCredentials
{
    private ControlPlaneCredentials(string directory, string caPem, string adminToken)
    {
        Directory = directory;
        CaPem = caPem;
        AdminToken = adminToken;
    }

    /// <summary>Where the files are.</summary>
    public string Directory { get; }

    /// <summary>The CA certificate in PEM, for clients to verify the API server.</summary>
    public string CaPem { get; }

    /// <summary>A bearer token in group system:masters (cluster-admin).</summary>
    public string AdminToken { get; }

    public string CaFile => Path.Combine(Directory, "ca.crt");

    public string ServingCertFile => Path.Combine(Directory, "apiserver.crt");

    public string ServingKeyFile => Path.Combine(Directory, "apiserver.key");

    public string ServiceAccountPublicKeyFile => Path.Combine(Directory, "sa.pub");

    public string ServiceAccountPrivateKeyFile => Path.Combine(Directory, "sa.key");

    public string TokenFile => Path.Combine(Directory, "tokens.csv");

    /// <summary>Generates every credential into <paramref name="directory"/>.</summary>
    public static ControlPlaneCredentials Create(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=envtest-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(30));

        using var servingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var servingRequest = new CertificateRequest("CN=kube-apiserver", servingKey, HashAlgorithmName.SHA256);
        servingRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        servingRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        servingRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.Parse("10.0.0.1")); // the kubernetes Service's ClusterIP in --service-cluster-ip-range
        san.AddDnsName("localhost");
        san.AddDnsName("kubernetes");
        san.AddDnsName("kubernetes.default");
        san.AddDnsName("kubernetes.default.svc");
        servingRequest.CertificateExtensions.Add(san.Build());
        servingRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var serving = servingRequest.Create(ca, now.AddMinutes(-5), now.AddDays(30), serial);

        // RSA for the ServiceAccount signer: RS256 is what every token consumer accepts.
        using var saKey = RSA.Create(2048);
        var adminToken = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

        var credentials = new ControlPlaneCredentials(directory, ca.ExportCertificatePem(), adminToken);
        File.WriteAllText(credentials.CaFile, credentials.CaPem + "\n");
        File.WriteAllText(credentials.ServingCertFile, serving.ExportCertificatePem() + "\n");
        File.WriteAllText(credentials.ServingKeyFile, servingKey.ExportPkcs8PrivateKeyPem() + "\n");
        File.WriteAllText(credentials.ServiceAccountPrivateKeyFile, saKey.ExportPkcs8PrivateKeyPem() + "\n");
        File.WriteAllText(credentials.ServiceAccountPublicKeyFile, saKey.ExportSubjectPublicKeyInfoPem() + "\n");
        File.WriteAllText(credentials.TokenFile, $"{adminToken},admin,admin,system:masters\n");
        return credentials;
    }
}
