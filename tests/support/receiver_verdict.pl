#!/usr/bin/perl
# What a receiving server concludes about one message, by implementations independent of the
# relay: DKIM by Mail::DKIM, SPF by Mail::SPF, DMARC by Mail::DMARC, all asking the DNS server
# given as host and port. Reads the message on stdin; prints
#   DKIM <domain> <result> <signed header names>   (one line per signature)
#   SPF <identity> <result>
#   DMARC <result> spf=<result> spf_align=<mode> dkim=<result> dkim_align=<mode>
use strict;
use warnings;
use Net::DNS::Resolver;
use Mail::Address;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Mail::SPF;
use Mail::DMARC::PurePerl;

my ($host, $port, $client_ip, $helo, $mail_from) = @ARGV;
my $resolver = Net::DNS::Resolver->new(nameservers => [$host], port => $port, recurse => 1,
                                       udp_timeout => 5, tcp_timeout => 5, retry => 1);
Mail::DKIM::DNS::resolver($resolver);

my $dkim = Mail::DKIM::Verifier->new();
my ($from_header, $in_headers, $last) = ('', 1, '');
binmode STDIN;
while (my $line = <STDIN>) {
    $line =~ s/\015?\012\z//;
    if ($in_headers) {
        if ($line eq '') { $in_headers = 0; }
        elsif ($line =~ /^\s/ && $last eq 'from') { $from_header .= $line; }
        elsif ($line =~ /^From:(.*)$/i) { $from_header = $1; $last = 'from'; }
        else { $last = ''; }
    }
    $dkim->PRINT("$line\015\012");
}
$dkim->CLOSE;
foreach my $signature ($dkim->signatures) {
    printf "DKIM %s %s %s\n", $signature->domain, $signature->result, lc($signature->headerlist // '');
}

my $spf_server = Mail::SPF::Server->new(dns_resolver => $resolver);
my $request = Mail::SPF::Request->new(scope => 'mfrom', identity => $mail_from,
                                      ip_address => $client_ip, helo_identity => $helo);
my $spf = $spf_server->process($request);
printf "SPF %s %s\n", $mail_from, $spf->code;

my ($author) = Mail::Address->parse($from_header);
my $mail_from_domain = lc((split /@/, $mail_from)[-1]);
my $dmarc = Mail::DMARC::PurePerl->new;
$dmarc->set_resolver($resolver);
$dmarc->source_ip($client_ip);
$dmarc->envelope_from($mail_from_domain);
$dmarc->header_from(lc $author->host);
$dmarc->dkim($dkim);
$dmarc->spf(domain => $mail_from_domain, scope => 'mfrom', result => $spf->code);
my $result = $dmarc->validate;
printf "DMARC %s spf=%s spf_align=%s dkim=%s dkim_align=%s\n", $result->result, $result->spf // '',
    $result->spf_align // '', $result->dkim // '', $result->dkim_align // '';
