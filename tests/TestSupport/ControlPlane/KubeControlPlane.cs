using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Autorest;

namespace TestSupport.ControlPlane;

/// <summary>
/// A real Kubernetes control plane for tests, as controller-runtime's envtest starts one: etcd, kube-apiserver and
/// kube-controller-manager (garbage collection, Deployment → ReplicaSet → Pod, namespaces, ServiceAccounts) from
/// <see cref="ControlPlaneAssets"/>, on free 127.0.0.1 ports, with a temp directory that is deleted on dispose.
/// There is no scheduler and no kubelet: Pods stay Pending until a test writes their status.
/// </summary>
public sealed class KubeControlPlane : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly string _directory;
    private readonly ControlPlaneAssets _assets;
    private readonly ControlPlaneCredentials _credentials;
    private readonly int _etcdPort;
    private readonly int _apiServerPort;
    private ControlPlaneProcess? _etcd;
    private ControlPlaneProcess? _apiServer;
    private ControlPlaneProcess? _controllerManager;

    private KubeControlPlane(string directory, ControlPlaneAssets assets, ControlPlaneCredentials credentials, int etcdPort, int apiServerPort)
    {
        _directory = directory;
        _assets = assets;
        _credentials = credentials;
        _etcdPort = etcdPort;
        _apiServerPort = apiServerPort;
        Url = new Uri($"https://127.0.0.1:{apiServerPort}/");
    }

    /// <summary>The API server's address.</summary>
    public Uri Url { get; }

    /// <summary>A cluster-admin bearer token (group system:masters).</summary>
    public string AdminToken => _credentials.AdminToken;

    /// <summary>The CA that signed the API server's serving certificate, in PEM.</summary>
    public string CaPem => _credentials.CaPem;

    /// <summary>Client configuration as cluster-admin, verifying TLS against the generated CA.</summary>
    public KubernetesClientConfiguration ClientConfiguration => ConfigurationFor(AdminToken);

    /// <summary>Log tails of every process, for failure messages.</summary>
    public string Logs =>
        string.Join("\n", new[] { _etcd, _apiServer, _controllerManager }.Where(p => p is not null).Select(p => $"--- {p!.Name}\n{p.Log}"));

    /// <summary>Starts etcd, kube-apiserver and kube-controller-manager and waits until the API server is ready.</summary>
    public static async Task<KubeControlPlane> StartAsync(CancellationToken cancellationToken = default)
    {
        var assets = ControlPlaneAssets.Find();
        AbandonedControlPlanes.Reap();
        var directory = Directory.CreateTempSubdirectory(AbandonedControlPlanes.Prefix).FullName;
        AbandonedControlPlanes.Own(directory);
        var credentials = ControlPlaneCredentials.Create(Path.Combine(directory, "pki"));
        var plane = new KubeControlPlane(directory, assets, credentials, FreePort.Next(), FreePort.Next());
        try
        {
            await plane.StartEtcdAsync(cancellationToken);
            await plane.StartApiServerAsync(cancellationToken);
            await plane.StartControllerManagerAsync(cancellationToken);
            return plane;
        }
        catch
        {
            await plane.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The API server's audit log (JSON lines, level Metadata) of every request made as a ServiceAccount: who asked for
    /// what and the response code, e.g. to prove an operator under its own RBAC never got a 403.
    /// </summary>
    public string AuditLogPath => Path.Combine(_directory, "audit.log");

    /// <summary>Client configuration for another bearer token (e.g. a ServiceAccount's from TokenRequest).</summary>
    public KubernetesClientConfiguration ConfigurationFor(string token) => new()
    {
        Host = Url.ToString().TrimEnd('/'),
        AccessToken = token,
        SslCaCerts = [X509Certificate2.CreateFromPem(CaPem)],
    };

    /// <summary>Writes a kubeconfig (CA inline, admin token, namespace default) for kubectl or a child process.</summary>
    public string WriteKubeconfig(string path, string? token = null)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var ca = Convert.ToBase64String(Encoding.ASCII.GetBytes(CaPem));
        File.WriteAllText(full, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: envtest
              cluster:
                server: {Url.ToString().TrimEnd('/')}
                certificate-authority-data: {ca}
            contexts:
            - name: envtest
              context:
                cluster: envtest
                user: envtest-user
                namespace: default
            current-context: envtest
            preferences: {"{}"}
            users:
            - name: envtest-user
              user:
                token: {token ?? AdminToken}

            """);
        return full;
    }

    /// <summary>
    /// Stops kube-apiserver and starts it again on the same port and etcd: every open watch ends, as in an API server
    /// rollout, and clients must re-list or re-watch.
    /// </summary>
    public async Task RestartApiServerAsync(CancellationToken cancellationToken = default)
    {
        if (_apiServer is not null)
        {
            await _apiServer.DisposeAsync();
        }

        await StartApiServerAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Reverse start order: nothing keeps writing to a stopped etcd.
        foreach (var process in new[] { _controllerManager, _apiServer, _etcd })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        foreach (var dir in new[] { _directory, EtcdDataDirectory })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (IOException)
            {
                // a file still held open only leaks a temp directory
            }
        }
    }

    // etcd fsyncs on every write; on tmpfs (/dev/shm) that costs nothing, which halves start-up on a busy disk.
    private string EtcdDataDirectory =>
        Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", Path.GetFileName(_directory) + "-etcd") : Path.Combine(_directory, "etcd");

    private async Task StartEtcdAsync(CancellationToken cancellationToken)
    {
        var client = $"http://127.0.0.1:{_etcdPort}";
        _etcd = ControlPlaneProcess.Start(_assets.Etcd,
        [
            "--name", "envtest", "--data-dir", EtcdDataDirectory,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", $"http://127.0.0.1:{FreePort.Next()}",
            "--initial-cluster-state", "new", "--log-level", "warn",
        ], _directory);
        AbandonedControlPlanes.Record(_directory, _etcd);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await WaitUntilAsync(_etcd, async () => (await http.GetAsync($"{client}/health", cancellationToken)).IsSuccessStatusCode, cancellationToken);
    }

    private async Task StartApiServerAsync(CancellationToken cancellationToken)
    {
        var c = _credentials;
        _apiServer = ControlPlaneProcess.Start(_assets.KubeApiServer,
        [
            $"--etcd-servers=http://127.0.0.1:{_etcdPort}", "--bind-address=127.0.0.1", $"--secure-port={_apiServerPort}",
            "--advertise-address=127.0.0.1", $"--tls-cert-file={c.ServingCertFile}", $"--tls-private-key-file={c.ServingKeyFile}",
            $"--client-ca-file={c.CaFile}", $"--token-auth-file={c.TokenFile}",
            $"--service-account-key-file={c.ServiceAccountPublicKeyFile}", $"--service-account-signing-key-file={c.ServiceAccountPrivateKeyFile}",
            "--service-account-issuer=https://kubernetes.default.svc", "--authorization-mode=Node,RBAC",
            "--service-cluster-ip-range=10.0.0.0/16", "--allow-privileged=true",
            // OwnerReferencesPermissionEnforcement (on in hardened distributions): setting blockOwnerDeletion needs update
            // on the owner's finalizers subresource, so RBAC tests see that rule exercised.
            "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,OwnerReferencesPermissionEnforcement", "--endpoint-reconciler-type=none",
            $"--cert-dir={Path.Combine(_directory, "certs")}", "--profiling=false",
            $"--audit-policy-file={AuditPolicyFile()}", $"--audit-log-path={AuditLogPath}", "--audit-log-mode=blocking",
        ], _directory);
        AbandonedControlPlanes.Record(_directory, _apiServer);
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && TrustedByCa(cert),
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        await WaitUntilAsync(_apiServer, async () => (await http.GetAsync(new Uri(Url, "readyz"), cancellationToken)).IsSuccessStatusCode, cancellationToken);
    }

    private async Task StartControllerManagerAsync(CancellationToken cancellationToken)
    {
        var kubeconfig = WriteKubeconfig(Path.Combine(_directory, "controller-manager.kubeconfig"));
        _controllerManager = ControlPlaneProcess.Start(_assets.KubeControllerManager,
        [
            $"--kubeconfig={kubeconfig}", "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
            $"--service-account-private-key-file={_credentials.ServiceAccountPrivateKeyFile}", $"--root-ca-file={_credentials.CaFile}",
            "--use-service-account-credentials=false",
            "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-attachdetach,-persistentvolume-binder,-ttl",
        ], _directory);
        AbandonedControlPlanes.Record(_directory, _controllerManager);

        // The ServiceAccount controller creating default/default shows the controller manager is up and acting.
        using var client = new Kubernetes(ClientConfiguration);
        await WaitUntilAsync(_controllerManager, async () =>
        {
            try
            {
                await client.CoreV1.ReadNamespacedServiceAccountAsync("default", "default", cancellationToken: cancellationToken);
                return true;
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return false;
            }
        }, cancellationToken);
    }

    // Only ServiceAccount requests: the admin token of tests and the controller manager would drown them.
    private string AuditPolicyFile()
    {
        var path = Path.Combine(_directory, "audit-policy.yaml");
        File.WriteAllText(path, """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
              - level: Metadata
                userGroups: ["system:serviceaccounts"]
              - level: None

            """);
        return path;
    }

    private bool TrustedByCa(X509Certificate2 certificate)
    {
        using var ca = X509Certificate2.CreateFromPem(CaPem);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private async Task WaitUntilAsync(ControlPlaneProcess process, Func<Task<bool>> ready, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited with code {process.ExitCode} while starting:\n{Logs}");
            }

            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"{process.Name} was not ready within {StartTimeout.TotalSeconds:0}s (last error: {last?.Message}):\n{Logs}");
    }
}
