// A stand-in for the Nomad CLI's HTTP client: it reads the NOMAD_* variables the way
// hashicorp/nomad api.DefaultConfig() and ConfigureTLS() do (tls.LoadX509KeyPair on the
// cert and key paths) and GETs /v1/agent/self, printing "STATUS BODY".
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nomadapi:", err)
	os.Exit(1)
}

func main() {
	conf := &tls.Config{}
	if ca := os.Getenv("NOMAD_CACERT"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail(fmt.Errorf("no certificates in %s", ca))
		}
		conf.RootCAs = pool
	}
	cert, key := os.Getenv("NOMAD_CLIENT_CERT"), os.Getenv("NOMAD_CLIENT_KEY")
	if cert != "" && key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			fail(err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	conf.ServerName = os.Getenv("NOMAD_TLS_SERVER_NAME")
	conf.InsecureSkipVerify = os.Getenv("NOMAD_SKIP_VERIFY") == "true"
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	req, err := http.NewRequest("GET", os.Getenv("NOMAD_ADDR")+"/v1/agent/self", nil)
	if err != nil {
		fail(err)
	}
	q := req.URL.Query()
	if r := os.Getenv("NOMAD_REGION"); r != "" {
		q.Set("region", r)
	}
	if ns := os.Getenv("NOMAD_NAMESPACE"); ns != "" {
		q.Set("namespace", ns)
	}
	req.URL.RawQuery = q.Encode()
	if t := os.Getenv("NOMAD_TOKEN"); t != "" {
		req.Header.Set("X-Nomad-Token", t)
	}
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s\n", resp.StatusCode, body)
}
