using k8s;

namespace KubectlGru.Cluster;

/// <summary>Where kubectl would go: the kubeconfig, context and namespace chosen by flags, KUBECONFIG or defaults.</summary>
internal sealed record ClusterConnection(IKubernetes Client, string Namespace, string Context, string Server)
{
    /// <summary>
    /// Like kubectl: --kubeconfig, else the first file in $KUBECONFIG, else ~/.kube/config, else the pod's service account;
    /// --context, else the current context; --namespace, else the context's namespace, else "default".
    /// </summary>
    public static ClusterConnection Open(string? kubeconfig, string? context, string? ns)
    {
        var path = kubeconfig
            ?? Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(File.Exists)
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
        KubernetesClientConfiguration config;
        string contextName;
        if (kubeconfig is null && context is null && !File.Exists(path) && KubernetesClientConfiguration.IsInCluster())
        {
            config = KubernetesClientConfiguration.InClusterConfig();
            contextName = "in-cluster";
        }
        else
        {
            if (!File.Exists(path))
            {
                throw new CommandException($"no kubeconfig at {path}: pass --kubeconfig PATH or set KUBECONFIG");
            }

            config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, context);
            contextName = context ?? config.CurrentContext ?? "(current)";
        }

        return new ClusterConnection(new Kubernetes(config), ns ?? config.Namespace ?? "default", contextName, config.Host);
    }
}
