namespace TestSupport.ControlPlane;

/// <summary>
/// Where the control-plane binaries are, by the envtest convention: <c>KUBEBUILDER_ASSETS</c> names a directory holding
/// <c>kube-apiserver</c> (and <c>kube-controller-manager</c>, and optionally <c>etcd</c>); etcd otherwise comes from
/// <c>/usr/bin/etcd</c> (Debian's etcd-server) or PATH. Without the variable, the repository's <c>.tmp/envtest</c>
/// (what <c>make test</c> unpacks) is used when it exists.
/// </summary>
public sealed record ControlPlaneAssets(string Etcd, string KubeApiServer, string KubeControllerManager)
{
    /// <summary>The environment variable setup-envtest and controller-runtime's envtest use.</summary>
    public const string AssetsVariable = "KUBEBUILDER_ASSETS";

    /// <summary>Finds every binary or throws one plain message saying what is missing and how to get it.</summary>
    public static ControlPlaneAssets Find()
    {
        var assets = Environment.GetEnvironmentVariable(AssetsVariable);
        // Running tests from an IDE after one `make test`: use what it unpacked.
        var unpacked = Path.Combine(Repository.Root, ".tmp", "envtest");
        if (string.IsNullOrWhiteSpace(assets) && File.Exists(Path.Combine(unpacked, "kube-apiserver")))
        {
            assets = unpacked;
        }

        var missing = new List<string>();
        string? apiServer = null, controllerManager = null, etcdInAssets = null;
        if (string.IsNullOrWhiteSpace(assets))
        {
            missing.Add($"{AssetsVariable} is not set");
        }
        else
        {
            apiServer = Executable(assets, "kube-apiserver", missing);
            controllerManager = Executable(assets, "kube-controller-manager", missing);
            var etcd = Path.Combine(assets, "etcd");
            etcdInAssets = File.Exists(etcd) ? etcd : null;
        }

        var etcdBinary = etcdInAssets ?? FindEtcd();
        if (etcdBinary is null)
        {
            missing.Add("etcd was found neither in the assets directory nor at /usr/bin/etcd or on PATH (apt-get install etcd-server)");
        }

        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                "the real control-plane tests need kube-apiserver, kube-controller-manager and etcd: " + string.Join("; ", missing) +
                $". Run the tests through `make test` (it unpacks ../shared/envtest into .tmp/envtest and sets {AssetsVariable}), " +
                $"or point {AssetsVariable} at a directory holding setup-envtest's 1.28 binaries plus kube-controller-manager of the same release (docs/development.md: Tested on a real control plane).");
        }

        return new ControlPlaneAssets(etcdBinary!, apiServer!, controllerManager!);
    }

    private static string? Executable(string directory, string name, List<string> missing)
    {
        var path = Path.Combine(directory, name);
        if (File.Exists(path))
        {
            return path;
        }

        missing.Add($"{path} does not exist");
        return null;
    }

    private static string? FindEtcd() =>
        new[] { "/usr/bin/etcd" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, "etcd")))
            .FirstOrDefault(File.Exists);
}
